"""Base models as users have them: A1111 single files and diffusers folders, checked against independent code."""

import pytest
import torch

from t2i_train import BaseModelError, load_base_model
from t2i_train import tokenizer as tok
from t2i_train.base_model import call_unet, context_depth, detect_family, size_embedding
from t2i_train.tiny import tiny_checkpoint_state, tiny_unet, write_tiny_checkpoint

from .helpers import diffusers_folder


def test_sd1_single_file_builds_the_ldm_unet_with_the_checkpoints_weights(tmp_path, tokenizer_cache):
    path = write_tiny_checkpoint(tmp_path / "tiny.safetensors", "sd1")
    base = load_base_model(path, cache=tokenizer_cache)
    ref = tiny_unet("sd1")
    assert type(base.unet).__name__ == "UNetModel" and base.family == "sd1" and base.prediction == "epsilon"
    x, t, ctx = torch.randn(2, 4, 8, 8), torch.tensor([10, 700]), torch.randn(2, 77, 64)
    with torch.no_grad():
        assert (base.unet(x, t, context=ctx) - ref(x, t, context=ctx)).abs().max() <= 1e-6
    cond = base.text.encode(["a photo of a cat", ""])
    assert cond.context.shape == (2, 77, 64) and cond.y is None


def test_sd2_single_file_needs_a_prediction_type_and_maps_open_clip_to_the_same_text_features(
    tmp_path, tokenizer_cache
):
    from transformers import CLIPTextConfig, CLIPTextModel

    path = write_tiny_checkpoint(tmp_path / "sd2.safetensors", "sd2")
    with pytest.raises(BaseModelError, match="--prediction-type"):
        load_base_model(path, cache=tokenizer_cache)
    base = load_base_model(path, prediction="v", cache=tokenizer_cache)
    assert base.family == "sd2" and base.prediction == "v"
    torch.manual_seed(0)  # the tower tiny.py wrote (open_clip keys), rebuilt as transformers' own model
    ref = CLIPTextModel(CLIPTextConfig(vocab_size=49408, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                       num_attention_heads=1, max_position_embeddings=77, hidden_act="gelu")).eval()
    ids = base.text.towers[0].tokenizer(["a cat"], padding="max_length", max_length=77, return_tensors="pt").input_ids
    assert ids[0, 4].item() == 0  # open_clip pads with "!" (id 0), not the end token
    with torch.no_grad():
        out = ref(ids, output_hidden_states=True)
        want = ref.text_model.final_layer_norm(out.hidden_states[-2])  # SD2: penultimate layer + final LN
    assert (base.text.encode(["a cat"]).context - want).abs().max() <= 1e-5


@pytest.mark.parametrize("family", ["sd1", "sd2", "sdxl"])
def test_diffusers_folder_matches_diffusers_own_unet_vae_and_text_encoders(tmp_path, tokenizer_cache, family):
    models = diffusers_folder(tmp_path / "model", family, tokenizer_cache)
    base = load_base_model(tmp_path / "model", cache=tokenizer_cache)
    assert base.family == family and type(base.unet).__name__ == "UNetModel"
    assert base.prediction == ("v" if family == "sd2" else "epsilon")  # from the scheduler config
    ctx_dim = 128 if family == "sdxl" else 64
    x, t, ctx = torch.randn(2, 4, 8, 8), torch.tensor([3, 900]), torch.randn(2, 77, ctx_dim)
    sizes = [(64, 64, 0, 0, 64, 64), (80, 48, 8, 0, 64, 64)]
    with torch.no_grad():
        if family == "sdxl":
            pooled = torch.randn(2, 64)
            want = models["unet"](x, t, ctx, added_cond_kwargs={
                "text_embeds": pooled, "time_ids": torch.tensor(sizes, dtype=torch.float32)}).sample
            y = torch.cat([pooled, size_embedding(torch.tensor(sizes, dtype=torch.float32))], 1)
            got = call_unet(base.unet, x, t, type("C", (), {"context": ctx, "y": y})(), context_depth(base.unet))
            assert context_depth(base.unet) == 2  # deep transformer layers load with SGM's key layout
        else:
            want = models["unet"](x, t, ctx).sample
            got = base.unet(x, t, context=ctx)
        assert (got - want).abs().max() <= 1e-4
        img = torch.rand(1, 3, 64, 64) * 2 - 1
        mean, _ = base.vae.encode(img)
        vae = models["vae"]
        assert (mean - vae.encode(img).latent_dist.mean * vae.config.scaling_factor).abs().max() <= 1e-4
        decoded = vae.decode(mean / vae.config.scaling_factor).sample.clamp(-1, 1)
        assert (base.vae.decode(mean) - decoded).abs().max() <= 1e-4
        cond = base.text.encode(["a cat"], [sizes[0]])
        tokenizer = base.text.towers[0].tokenizer
        ids = tokenizer(["a cat"], padding="max_length", max_length=77, return_tensors="pt").input_ids
        out = models["text_encoder"](ids, output_hidden_states=True)
        first = {"sd1": out.last_hidden_state, "sdxl": out.hidden_states[-2],
                 "sd2": models["text_encoder"].text_model.final_layer_norm(out.hidden_states[-2])}[family]
        assert (cond.context[..., :64] - first).abs().max() <= 1e-5
        if family == "sdxl":
            assert cond.context.shape == (1, 77, 128) and cond.y.shape == (1, 1600)


def test_sdxl_single_file_conditions_on_pooled_text_and_sizes(tmp_path, tokenizer_cache):
    base = load_base_model(write_tiny_checkpoint(tmp_path / "xl.safetensors", "sdxl"), cache=tokenizer_cache)
    assert base.family == "sdxl" and base.size_multiple == 16 and base.adapter_base == "SDXL"
    a = base.text.encode(["a cat"], [(64, 64, 0, 0, 64, 64)])
    b = base.text.encode(["a cat"], [(128, 64, 32, 0, 64, 64)])
    assert a.y.shape == (1, 1600) and torch.equal(a.y[:, :64], b.y[:, :64]) and not torch.equal(a.y, b.y)
    with torch.no_grad():
        out = call_unet(base.unet, torch.randn(1, 4, 8, 8), torch.tensor([500]), a, context_depth(base.unet))
    assert out.shape == (1, 4, 8, 8)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda sd: {"lora_unet_down.weight": torch.zeros(1)}, "LoRA"),
        (lambda sd: {k[len("first_stage_model."):]: v for k, v in sd.items() if k.startswith("first_stage_model.")},
         "VAE"),
        (lambda sd: {**sd, "model.diffusion_model.input_blocks.0.0.weight": torch.zeros(32, 9, 3, 3)}, "inpainting"),
        (lambda sd: {k.replace("conditioner.embedders.1.", "conditioner.embedders.0."): v for k, v in sd.items()
                     if not k.startswith("conditioner.embedders.0.")}, "refiner"),
        (lambda sd: {k: v for k, v in sd.items() if not k.startswith("conditioner.")}, "unknown checkpoint"),
    ],
)
def test_unsupported_files_are_refused_by_what_they_are(edit, message):
    with pytest.raises(BaseModelError, match=message):
        detect_family(edit(tiny_checkpoint_state("sdxl")))


def test_missing_tokenizer_files_name_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setattr(tok, "_open_clip_bpe", lambda: None)
    monkeypatch.setattr(tok, "_hf_cache_folder", lambda: None)
    with pytest.raises(BaseModelError, match="vocab.json.*open-clip-torch"):
        tok.find_tokenizer_folder(None, tmp_path / "empty")


def test_built_tokenizer_matches_open_clip_ids(tokenizer_cache):
    t = tok.clip_tokenizer(tok.find_tokenizer_folder(None, tokenizer_cache))
    assert t("a photo of a cat").input_ids == [49406, 320, 1125, 539, 320, 2368, 49407]


def test_checkpoints_are_read_by_content_through_the_bounded_reader(tmp_path):
    from t2i_train.base_model import read_checkpoint

    state = {"model.diffusion_model.input_blocks.0.0.weight": torch.zeros(2, 4, 3, 3)}
    renamed = tmp_path / "model.safetensors"  # a torch.save file with the wrong suffix: read as what it is
    torch.save({"state_dict": state}, renamed)
    assert list(read_checkpoint(renamed)) == list(state)

    class Payload:
        def __reduce__(self):
            return (print, ("pwned",))

    evil = tmp_path / "evil.ckpt"
    torch.save({"state_dict": state, "x": Payload()}, evil)
    with pytest.raises(BaseModelError, match=r"tries to run code \(\w+\.print\)"):
        read_checkpoint(evil)
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}......")
    with pytest.raises(BaseModelError, match="broken.safetensors could not be read"):
        read_checkpoint(broken)


def test_a_sharded_diffusers_folder_loads_as_the_unsharded_one(tmp_path, tokenizer_cache):
    """``save_pretrained(max_shard_size=...)`` writes ``…-0000i-of-0000n.safetensors`` and an index (large UNets, and
    the bench's SDXL files); a shard the index names but the folder lacks is named."""
    models = diffusers_folder(tmp_path / "model", "sd1", tokenizer_cache)
    whole = load_base_model(tmp_path / "model", cache=tokenizer_cache)
    unet_dir = tmp_path / "model" / "unet"
    (unet_dir / "diffusion_pytorch_model.safetensors").unlink()
    models["unet"].save_pretrained(unet_dir, max_shard_size="100KB")
    shards = sorted(unet_dir.glob("diffusion_pytorch_model-*.safetensors"))
    assert len(shards) > 1 and (unet_dir / "diffusion_pytorch_model.safetensors.index.json").exists()
    sharded = load_base_model(tmp_path / "model", cache=tokenizer_cache)
    a, b = whole.unet.state_dict(), sharded.unet.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    text_dir = tmp_path / "model" / "text_encoder"  # transformers 4.30 shards as pickles, read by the safe reader
    for f in text_dir.glob("*.safetensors"):
        f.unlink()
    models["text_encoder"].save_pretrained(text_dir, max_shard_size="100KB", safe_serialization=False)
    assert (text_dir / "pytorch_model.bin.index.json").exists()
    again = load_base_model(tmp_path / "model", cache=tokenizer_cache)
    assert torch.equal(again.text.encode(["a cat"]).context, whole.text.encode(["a cat"]).context)
    shards[1].unlink()
    with pytest.raises(BaseModelError, match=f"lacks the shard .*{shards[1].name}"):
        load_base_model(tmp_path / "model", cache=tokenizer_cache)
