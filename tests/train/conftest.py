import pytest
import torch


@pytest.fixture(autouse=True)
def _deterministic():
    torch.manual_seed(0)
    torch.set_num_threads(2)


@pytest.fixture(scope="session")
def tokenizer_cache(tmp_path_factory):
    """CLIP tokenizer files built once from open_clip's BPE file (never downloaded)."""
    return tmp_path_factory.mktemp("t2i_train_cache")
