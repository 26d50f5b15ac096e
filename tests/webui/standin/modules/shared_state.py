"""Mirrors modules/shared_state.py@v1.10.1: the job state read by samplers (``interrupted``, ``skipped``,
``sampling_step``, ``sampling_steps``) and set by the Interrupt/Skip buttons and ``/sdapi/v1/interrupt``."""


class State:
    def __init__(self):
        self.skipped = False
        self.interrupted = False
        self.stopping_generation = False
        self.job = ""
        self.job_no = 0
        self.job_count = 0
        self.processing_has_refined_job_count = False
        self.job_timestamp = "0"
        self.sampling_step = 0
        self.sampling_steps = 0
        self.current_latent = None
        self.current_image = None
        self.id_live_preview = 0
        self.textinfo = None
        self.time_start = None
        self.server_start = None

    def interrupt(self):
        self.interrupted = True

    def skip(self):
        self.skipped = True

    def stop_generating(self):
        self.stopping_generation = True

    def nextjob(self):
        self.job_no += 1
        self.sampling_step = 0
        self.current_image_sampling_step = 0

    def begin(self, job: str = "(unknown)"):
        # shared_state.py State.begin: every counter and flag back to its start value
        self.sampling_step = 0
        self.time_start = 0
        self.job_count = -1
        self.processing_has_refined_job_count = False
        self.job_no = 0
        self.current_latent = None
        self.current_image = None
        self.id_live_preview = 0
        self.skipped = False
        self.interrupted = False
        self.stopping_generation = False
        self.textinfo = None
        self.job = job

    def end(self):
        self.job = ""
        self.job_count = 0

    def set_current_image(self):
        pass

    def assign_current_image(self, image):
        self.current_image = image
