import pytest
import torch


@pytest.fixture(autouse=True)
def _deterministic():
    torch.manual_seed(0)
    # one thread: on this shared 2-core machine two threads per test ran up to 10x slower (oversubscription)
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tokenizer_cache(tmp_path_factory):
    """CLIP tokenizer files built once from open_clip's BPE file (never downloaded)."""
    return tmp_path_factory.mktemp("t2i_train_cache")
