"""Mirrors modules/call_queue.py@v1.10.1: ``queue_lock`` (a ``fifo_lock.FIFOLock`` there: one job at a time, in
arrival order), taken by every generation and by training."""

from __future__ import annotations

import threading

queue_lock = threading.Lock()
