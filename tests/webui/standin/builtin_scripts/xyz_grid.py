"""Mirrors the part of scripts/xyz_grid.py@v1.10.1 extensions use: ``AxisOption(label, type, apply,
format_value=..., confirm=None, cost=0.0, choices=None, prepare=None)`` and the module-level ``axis_options`` list,
found through ``scripts.scripts_data`` (module name "xyz_grid.py"). The grid itself is not modelled; ``apply_axis``
applies one axis value to ``p`` as the grid does before each cell (``axis.apply(p, value, axis.choices)``)."""

from modules import scripts


def format_value_add_label(p, opt, x):
    return f"{opt.label}: {x}"


class AxisOption:
    def __init__(
        self,
        label,
        type,
        apply,
        format_value=format_value_add_label,
        confirm=None,
        cost=0.0,
        choices=None,
        prepare=None,
    ):
        self.label = label
        self.type = type
        self.apply = apply
        self.format_value = format_value
        self.confirm = confirm
        self.cost = cost
        self.prepare = prepare
        self.choices = choices


class AxisOptionImg2Img(AxisOption):
    is_img2img = True


class AxisOptionTxt2Img(AxisOption):
    is_img2img = False


def apply_field(field):
    def fun(p, x, xs):
        setattr(p, field, x)

    return fun


axis_options = [
    AxisOption("Nothing", str, lambda p, x, xs: None, format_value=lambda p, o, x: ""),
    AxisOption("Seed", int, apply_field("seed")),
    AxisOption("Steps", int, apply_field("steps")),
    AxisOption("CFG Scale", float, apply_field("cfg_scale")),
]


def apply_axis(p, label, value):
    axis = next(o for o in axis_options if o.label == label)
    axis.apply(p, axis.type(value), axis.choices)


class Script(scripts.Script):
    def title(self):
        return "X/Y/Z plot"

    def ui(self, is_img2img):
        return []

    def run(self, p, *args):
        return None
