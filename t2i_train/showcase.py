"""``python -m t2i_train.showcase`` (``./dev.sh run``): what the extension does, end to end, offline, on a CPU.

1. annotate — two photos that scikit-image ships inside its wheel (``camera.png``, ``coins.png``) become condition
   maps with our ``binary`` annotator (Otsu's threshold).
2. teach — a tiny SD1-layout UNet, built with the WebUI's own LDM code, learns to generate latents that hold random
   blobs (the trainer's toy world, :mod:`t2i_train.toy`, with blob fields instead of one shape).
3. fit — a 1-channel full adapter is trained by the trainer's loop (:func:`t2i_train.loop.fit`) on random
   (blob map → latent) pairs. It never sees the photos.
4. generate — the same seed with and without the adapter; the adapter's features go in through
   :func:`t2i_ext.inject`, the path the WebUI takes. Control is measured, not staged: the IoU of the generated
   blobs (latent > 0) with the condition map on the latent grid (each 8×8 cell more than half white).
5. time — the cost of the adapter: a generation with it (its pass included) against one without, in paired
   interleaved rounds, as a median ratio with a distribution-free interval.

It writes one labelled PNG (condition | without | with) and prints a short report that ends in ``OK``, or in
``FAILED`` (exit 1) when the adapter does not raise the IoU for every photo.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from .timing import Ratio, paired_ratio

#: the photos and how the annotator reads them (coins are light on a dark ground, the cameraman dark on a light one)
PHOTOS: tuple[tuple[str, dict], ...] = (("camera", {"dark_lines": True}), ("coins", {"dark_lines": False}))
ANNOTATOR = "binary"
DEFAULT_OUT = "t2i_adapter_showcase.png"
COLUMNS = ("condition", "without adapter", "with adapter")
PREDICTION = "v"  # the toy UNet's target (see t2i_train.toy.pretrain_unet for why)


@dataclass(frozen=True)
class Plan:
    """Sizes and step counts of one run."""

    latent: int  # latent side; condition maps are 8× larger
    unet_steps: int
    adapter_steps: int
    pairs: int  # (blob map → latent) pairs the adapter is fitted on
    seeds: int  # samples per photo for the IoU
    sample_steps: int  # DDIM steps
    rounds: int  # paired timing rounds
    batch: int = 16  # the adapter's
    unet_batch: int = 16


FULL = Plan(latent=24, unet_steps=250, adapter_steps=120, pairs=256, seeds=8, sample_steps=20, rounds=15, batch=8,
            unet_batch=8)
QUICK = Plan(latent=16, unet_steps=120, adapter_steps=60, pairs=64, seeds=4, sample_steps=10, rounds=6, batch=8,
             unet_batch=8)


# ---------------------------------------------------------------------------------------------------- the toy world
def blob_conditions(n: int, seed: int, latent: int) -> torch.Tensor:
    """``n`` binary maps ``[n, 1, 8·latent, 8·latent]``: smooth random fields above a level that whitens 20–55 %,
    blobs from a few latent cells wide to a third of the picture (the photos' maps are of that kind)."""
    g = torch.Generator().manual_seed(seed)
    side = 8 * latent
    out = torch.empty(n, 1, side, side)
    for i in range(n):
        cells = int(torch.randint(3, 11, (), generator=g))
        field = F.interpolate(torch.randn(1, 1, cells, cells, generator=g), size=(side, side), mode="bicubic",
                              align_corners=False)
        white = float(torch.empty(()).uniform_(0.2, 0.55, generator=g))
        out[i] = (field > field.flatten().quantile(1 - white)).float()[0]
    return out


def latent_masks(conditions: torch.Tensor) -> torch.Tensor:
    """Condition maps ``[n, 1, 8h, 8w]`` in [0, 1] → masks ``[n, 1, h, w]``: latent cells more than half white."""
    return (F.avg_pool2d(conditions, 8) > 0.5).float()


def mask_latents(masks: torch.Tensor) -> torch.Tensor:
    """What the toy UNet learns to draw: −1 outside, +1 inside the mask (channels 2 and 3 at half), as toy.shapes."""
    latents = (masks * 2 - 1).expand(-1, 4, -1, -1).clone()
    latents[:, 2:] *= 0.5
    return latents


def blob_world(n: int, seed: int, latent: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A :data:`t2i_train.toy.World`: latents and masks of random blob maps."""
    masks = latent_masks(blob_conditions(n, seed, latent))
    return mask_latents(masks), masks


# ---------------------------------------------------------------------------------------------------- the photos
class ShowcaseError(Exception):
    """A problem the user can act on; the message says what and how."""


def photo_path(name: str) -> Path:
    from skimage import data

    return Path(data.data_dir) / f"{name}.png"


def load_photo(name: str) -> np.ndarray:
    """A sample photo from scikit-image's wheel, RGB uint8; never downloaded (only files that ship are read)."""
    from skimage import data

    if not photo_path(name).is_file():
        raise ShowcaseError(f"{photo_path(name)} is missing: reinstall scikit-image (./dev.sh rebuilds .venv).")
    img = np.asarray(getattr(data, name)())
    return np.repeat(img[:, :, None], 3, axis=2) if img.ndim == 2 else img[:, :, :3]


def centre_square(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    s = min(h, w)
    return img[(h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s]


def condition_map(photo: np.ndarray, params: dict, side: int) -> np.ndarray:
    """The annotator's map of the photo's centre square, resized to ``side``² (uint8, white = condition)."""
    import annotators

    out = annotators.get(ANNOTATOR)(centre_square(photo), **params)
    # a copy: Pillow's buffer is read-only, and torch warns about wrapping a read-only array
    return np.array(Image.fromarray(out).resize((side, side), Image.Resampling.BILINEAR))


# ---------------------------------------------------------------------------------------------------- the models
def teach_unet(plan: Plan, seed: int, on_step: Callable[[float], None]) -> tuple[torch.nn.Module, torch.Tensor]:
    """A tiny LDM UNet taught the blob world; returns it (frozen) and its noise schedule."""
    from .base_model import _schedule
    from .toy import pretrain_unet, toy_unet

    schedule = _schedule()
    unet = toy_unet(seed=seed, size=plan.latent)
    pretrain_unet(unet, schedule, plan.unet_steps, batch=plan.unet_batch, seed=seed, size=plan.latent,
                  prediction=PREDICTION, world=blob_world, on_step=on_step)
    return unet, schedule


def fit_adapter(unet: torch.nn.Module, schedule: torch.Tensor, plan: Plan, seed: int,
                on_step: Callable[[float], None]) -> torch.nn.Module:
    """A 1-channel full adapter fitted by the trainer's loop on random (blob map → latent) pairs."""
    from t2i_ext.nets import FullAdapter

    from .config import TrainConfig
    from .loop import fit
    from .precompute import Entry, LatentSet
    from .toy import toy_context

    conditions = blob_conditions(plan.pairs, seed + 1, plan.latent)  # other seeds than the UNet's lessons
    latents = mask_latents(latent_masks(conditions))
    context = toy_context()
    data = LatentSet(entries=[Entry(latents[i], torch.zeros_like(latents[i]), conditions[i], context)
                              for i in range(plan.pairs)])
    torch.manual_seed(seed)
    adapter = FullAdapter(1, (32, 32, 32, 32), num_res_blocks=1)
    with tempfile.TemporaryDirectory(prefix="t2i_showcase_") as tmp:
        config = TrainConfig(output=tmp, steps=plan.adapter_steps, batch_size=plan.batch, learning_rate=3e-3,
                             checkpoint_every=0, seed=seed, cpu=True)
        result = fit(unet, adapter, data, schedule, PREDICTION, config, "SD1",
                     progress_callback=lambda p: on_step(p.loss))
    if result.interrupted:  # the loop turns Ctrl-C into a resumable stop; here there is nothing to resume
        raise KeyboardInterrupt
    return result.adapter


def generate(unet: torch.nn.Module, schedule: torch.Tensor, adapter: torch.nn.Module | None, condition: np.ndarray,
             plan: Plan, seed: int, count: int) -> torch.Tensor:
    """``count`` latents from ``seed``'s noise; with ``adapter``, its features of ``condition`` are injected."""
    import t2i_ext

    from .base_model import Conditioning
    from .sampling import ddim_sample
    from .toy import toy_context

    features = None
    if adapter is not None:  # as the WebUI does: the map → the adapter's input → one adapter pass per job
        features = t2i_ext.compute_features(adapter, t2i_ext.condition_for(adapter, condition))
    text = Conditioning(toy_context()[None].expand(count, -1, -1))
    shape = (count, 4, plan.latent, plan.latent)
    return ddim_sample(unet, text, None, shape, schedule, PREDICTION, features=features, steps=plan.sample_steps,
                       seed=seed, adapter_base="SD1")


def iou(latents: torch.Tensor, condition: np.ndarray) -> torch.Tensor:
    """Per sample IoU of the generated blobs with the condition map on the latent grid."""
    from .toy import iou as toy_iou

    mask = latent_masks(torch.from_numpy(condition).float()[None, None] / 255)
    return toy_iou(latents, mask.expand(latents.shape[0], -1, -1, -1))


# ---------------------------------------------------------------------------------------------------- the picture
CELL = 240  # pixels per picture; a latent cell is shown as a CELL / latent square
GAP = 12
MARGIN = 16
HEADER = 34  # page title
TITLE = 22  # column titles
CAPTION = 20  # under each cell
ROW_LABEL = 112  # the photo beside each row
FOOTER = 34
ORANGE = (255, 140, 0)


def _text(draw, xy: tuple[int, int], text: str, fill=(20, 20, 20), scale: int = 1, anchor_centre: bool = False):
    """Pillow's default bitmap font, enlarged ``scale``× (nearest) so titles read at a glance."""
    font = ImageFont.load_default()
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    w, h = right - left, bottom - top
    x, y = xy
    if anchor_centre:
        x -= w * scale // 2
    if scale == 1:
        draw.text((x, y - top), text, fill=fill, font=font)
        return
    mask = Image.new("L", (w, h), 0)
    ImageDraw.Draw(mask).text((-left, -top), text, fill=255, font=font)
    mask = mask.resize((w * scale, h * scale), Image.Resampling.NEAREST)
    draw.bitmap((x, y), mask, fill=fill)


def _cells(grid: np.ndarray) -> np.ndarray:
    """A latent-sized uint8 grid at CELL² pixels, each cell a square (nearest: the latent's own resolution)."""
    return np.asarray(Image.fromarray(grid).resize((CELL, CELL), Image.Resampling.NEAREST))


def _latent_picture(latent: torch.Tensor) -> np.ndarray:
    """A latent ``[4, h, w]`` as grey pixels: its channel mean (±0.75 for the toy's −1/+1 latents) → 0..255."""
    return _cells((latent.mean(0) / 0.75 * 127.5 + 127.5).clamp(0, 255).round().to(torch.uint8).numpy())


def _outline(condition: np.ndarray) -> np.ndarray:
    """bool ``CELL²``: the edge of the latent cells the condition marks (what the IoU compares with)."""
    mask = latent_masks(torch.from_numpy(condition).float()[None, None] / 255)[0, 0]
    img = Image.fromarray(_cells((mask.numpy() * 255).astype(np.uint8)))
    grown, shrunk = img.filter(ImageFilter.MaxFilter(3)), img.filter(ImageFilter.MinFilter(3))
    return np.asarray(grown) != np.asarray(shrunk)


@dataclass
class Row:
    name: str  # the photo's file name
    photo: np.ndarray
    condition: np.ndarray  # uint8 side²
    without: torch.Tensor  # the shown seed's latent [4, h, w]
    with_adapter: torch.Tensor
    iou_without: float  # the shown seed's
    iou_with: float


def figure_size(rows: int) -> tuple[int, int]:
    width = 2 * MARGIN + ROW_LABEL + GAP + 3 * CELL + 2 * GAP
    height = 2 * MARGIN + HEADER + TITLE + rows * (CELL + CAPTION) + (rows - 1) * GAP + FOOTER
    return width, height


def column_boxes(rows: int) -> list[tuple[int, int, int, int]]:
    """Each column's cells area ``(left, top, right, bottom)``; the title band sits just above ``top``."""
    top = MARGIN + HEADER + TITLE
    bottom = figure_size(rows)[1] - MARGIN - FOOTER
    lefts = [MARGIN + ROW_LABEL + GAP + i * (CELL + GAP) for i in range(3)]
    return [(x, top, x + CELL, bottom) for x in lefts]


def draw_figure(rows: Sequence[Row], title: str, footer: str) -> Image.Image:
    size = figure_size(len(rows))
    page = Image.new("RGB", size, (250, 250, 248))
    draw = ImageDraw.Draw(page)
    _text(draw, (MARGIN, MARGIN + 4), title, scale=2)
    boxes = column_boxes(len(rows))
    for (left, top, right, _), name in zip(boxes, COLUMNS):
        _text(draw, ((left + right) // 2, top - TITLE + 2), name, scale=2, anchor_centre=True)
    for r, row in enumerate(rows):
        y = boxes[0][1] + r * (CELL + CAPTION + GAP)
        thumb = Image.fromarray(centre_square(row.photo)).resize((ROW_LABEL, ROW_LABEL), Image.Resampling.LANCZOS)
        page.paste(thumb, (MARGIN, y + (CELL - ROW_LABEL) // 2))
        _text(draw, (MARGIN + ROW_LABEL // 2, y + (CELL + ROW_LABEL) // 2 + 4), row.name, anchor_centre=True)
        _text(draw, (MARGIN + ROW_LABEL // 2, y + (CELL + ROW_LABEL) // 2 + 16), f"annotator: {ANNOTATOR}",
              fill=(110, 110, 110), anchor_centre=True)
        edge = _outline(row.condition)
        cells = [np.asarray(Image.fromarray(row.condition).resize((CELL, CELL), Image.Resampling.BILINEAR))]
        cells += [_latent_picture(row.without), _latent_picture(row.with_adapter)]
        captions = ["the adapter's input", f"IoU {row.iou_without:.2f}", f"IoU {row.iou_with:.2f}"]
        for i, (cell, caption) in enumerate(zip(cells, captions)):
            rgb = np.repeat(cell[:, :, None], 3, axis=2)
            if i:  # where the condition says the blobs belong
                rgb[edge] = ORANGE
            page.paste(Image.fromarray(rgb), (boxes[i][0], y))
            _text(draw, (boxes[i][0] + CELL // 2, y + CELL + 5), caption, fill=(60, 60, 60), anchor_centre=True)
    _text(draw, (MARGIN, size[1] - MARGIN - FOOTER + 8), footer, fill=(60, 60, 60))
    _text(draw, (MARGIN, size[1] - MARGIN - FOOTER + 22), "generated latents shown as grey cells (white: a blob); "
          "orange: the cells the condition marks, which the IoU compares the blobs with",
          fill=(110, 110, 110))
    return page


def save_png(image, path: Path) -> None:
    """Written beside ``path`` first, then moved over it: never half-written."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            image.save(f, format="PNG", pnginfo=_png_info())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _png_info():
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("columns", " | ".join(COLUMNS))
    info.add_text("Software", "t2i_train.showcase")
    return info


# ---------------------------------------------------------------------------------------------------- the run
@dataclass
class Outcome:
    rows: list[Row]
    mean_iou: dict[str, tuple[float, float]]  # photo → (without, with), over the seeds
    cost: Ratio
    unet_params: int
    adapter_params: int

    @property
    def ok(self) -> bool:
        return all(w > wo for wo, w in self.mean_iou.values())


def run(plan: Plan, seed: int, err: TextIO) -> Outcome:
    """The five phases, one progress bar each on ``err``."""
    from tqdm import tqdm

    # one thread: on a shared 2-core machine two threads wait on each other at every operation (10× slower under
    # load), and the tiny models gain little from a second one when it is idle
    torch.set_num_threads(1)
    def bar(desc: str, total: int, unit: str):
        return tqdm(total=total, desc=f"{desc:<24}", unit=unit, file=err, leave=True, dynamic_ncols=True,
                    bar_format="{desc} {percentage:3.0f}%|{bar:24}| {n_fmt}/{total_fmt} {unit} [{elapsed}<{remaining}]"
                    "{postfix}")

    side = 8 * plan.latent
    with bar("annotate photos", len(PHOTOS), "photos") as b:
        photos, conditions = [], []
        for name, params in PHOTOS:
            photos.append(load_photo(name))
            conditions.append(condition_map(photos[-1], params, side))
            b.update()
    with bar("teach the tiny UNet", plan.unet_steps, "steps") as b:
        unet, schedule = teach_unet(plan, seed, lambda loss: (b.set_postfix_str(f"loss {loss:.3f}"), b.update()))
    with bar("fit the adapter", plan.adapter_steps, "steps") as b:
        adapter = fit_adapter(unet, schedule, plan, seed, lambda loss: (b.set_postfix_str(f"loss {loss:.3f}"),
                                                                        b.update()))
    rows, mean_iou = [], {}
    with bar("generate", 2 * len(PHOTOS), "runs") as b:
        for (name, _), photo, condition in zip(PHOTOS, photos, conditions):
            plain = generate(unet, schedule, None, condition, plan, seed, plan.seeds)
            b.update()
            guided = generate(unet, schedule, adapter, condition, plan, seed, plan.seeds)
            b.update()
            s_without, s_with = iou(plain, condition), iou(guided, condition)
            mean_iou[f"{name}.png"] = (s_without.mean().item(), s_with.mean().item())
            rows.append(Row(f"{name}.png", photo, condition, plain[0], guided[0], s_without[0].item(),
                            s_with[0].item()))
    with bar("time with / without", plan.rounds, "rounds") as b:
        cost = paired_ratio(lambda: generate(unet, schedule, None, conditions[0], plan, seed, 1),
                            lambda: generate(unet, schedule, adapter, conditions[0], plan, seed, 1),
                            plan.rounds, on_round=b.update)
    return Outcome(rows, mean_iou, cost, sum(p.numel() for p in unet.parameters()),
                   sum(p.numel() for p in adapter.parameters()))


def report(o: Outcome, plan: Plan, seed: int, picture: Path) -> str:
    lat = f"{plan.latent}×{plan.latent}"
    lines = [
        "T2I-Adapter showcase: an adapter steering a tiny SD1-layout UNet, on the CPU, offline",
        f"  photos    {', '.join(o.mean_iou)} (scikit-image's sample images) -> condition maps by the "
        f"'{ANNOTATOR}' annotator, {8 * plan.latent}×{8 * plan.latent}",
        f"  UNet      the WebUI's LDM UNet code at toy size ({o.unet_params / 1e6:.2f} M parameters), taught "
        f"{plan.unet_steps} steps to draw random blobs in {lat} latents",
        f"  adapter   full, 1 channel ({o.adapter_params / 1e6:.2f} M parameters), fitted {plan.adapter_steps} steps "
        f"by the trainer on {plan.pairs} random blob maps; it never saw the photos",
        f"  control   IoU of the generated blobs with the condition map, {plan.seeds} samples from seed {seed}, "
        "the same noise without -> with the adapter:",
    ]
    for name, (without, with_) in o.mean_iou.items():
        lines.append(f"              {name:<12}{without:.2f} -> {with_:.2f}")
    lines += [
        f"  cost      time with / without the adapter (its pass included): {o.cost}",
        f"  picture   {picture}",
    ]
    if o.ok:
        lines.append("OK")
    else:
        worse = [name for name, (without, with_) in o.mean_iou.items() if with_ <= without]
        lines.append(f"FAILED: the adapter did not raise the IoU for {', '.join(worse)}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------- the command
def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"{value} is outside 0 … 4294967295")
    return value


def check_out(path: Path) -> Path:
    """The picture's path, refused before any work when it cannot be written or would replace an input."""
    if path.suffix.lower() != ".png":
        raise ShowcaseError(f"--out {path}: the picture is a PNG; give a path ending in .png.")
    if path.is_dir():
        raise ShowcaseError(f"--out {path}: that is a folder; give a file name, e.g. {path / DEFAULT_OUT}.")
    parent = path.parent
    if not parent.is_dir():
        raise ShowcaseError(f"--out {path}: the folder {parent} does not exist; create it or choose another.")
    if not os.access(parent, os.W_OK):
        raise ShowcaseError(f"--out {path}: the folder {parent} is not writable; choose another.")
    inputs = {photo_path(name).resolve() for name, _ in PHOTOS}
    if path.resolve() in inputs:
        raise ShowcaseError(f"--out {path}: that is one of the input photos; choose another file name.")
    return path


EXAMPLES = """examples:
  python -m t2i_train.showcase
  python -m t2i_train.showcase --quick --out showcase-quick.png --seed 3
"""


class _Help(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    pass


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m t2i_train.showcase",
        description="Show what a T2I-Adapter does, end to end on the CPU and offline (about 2 minutes): a photo's\n"
        "condition map, an adapter fitted to a tiny SD1-layout UNet, the same seed generated without and with it\n"
        "through the extension's injection, the IoU with the condition and the adapter's cost. Writes a labelled PNG.",
        formatter_class=_Help,
        epilog=EXAMPLES,
        allow_abbrev=False,
    )
    parser.add_argument("--out", type=Path, default=Path(DEFAULT_OUT), help="where the PNG goes")
    parser.add_argument("--seed", type=_seed, default=0, help="seed of the models, the data and the samples")
    parser.add_argument("--quick", action="store_true",
                        help="a smaller toy (16×16 latents, fewer steps), for a quick check")
    parser.add_argument("--verbose", action="store_true", help="show other libraries' start-up output")
    args = parser.parse_args(argv)
    try:
        out_path = check_out(args.out)
    except ShowcaseError as e:
        parser.exit(2, f"{parser.prog}: error: {e}\n")
    from t2i_ext.console import quiet_libraries, refuse

    plan = QUICK if args.quick else FULL
    with quiet_libraries(args.verbose) as (out, err):
        try:
            outcome = run(plan, args.seed, err)
            title = "T2I-Adapter: the same seed without and with an adapter"
            footer = (f"mean IoU over {plan.seeds} samples, without -> with: "
                      + ", ".join(f"{k} {a:.2f} -> {b:.2f}" for k, (a, b) in outcome.mean_iou.items())
                      + f"   |   seed {args.seed}, tiny UNet on {plan.latent}×{plan.latent} latents")
            save_png(draw_figure(outcome.rows, title, footer), out_path)
        except ShowcaseError as e:
            return refuse(e, err)
        except OSError as e:
            print(f"error: could not write {out_path}: {e.strerror or e}", file=err)
            return 1
        except KeyboardInterrupt:
            print("interrupted: no picture written", file=err)
            return 130
        print(report(outcome, plan, args.seed, out_path.resolve()), file=out)
    return 0 if outcome.ok else 1


if __name__ == "__main__":
    sys.exit(main())
