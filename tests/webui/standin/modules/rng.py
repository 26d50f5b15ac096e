"""Mirrors modules/rng.py@v1.10.1 ``ImageRNG``: one noise tensor per image from that image's seed, so an image's
noise does not depend on its position in the batch. (CPU generator; subseed variation is not modelled.)"""

import torch


def randn(seed, shape):
    generator = torch.Generator().manual_seed(int(seed))
    return torch.randn(shape, generator=generator)


class ImageRNG:
    def __init__(self, shape, seeds, subseeds=None, subseed_strength=0.0, seed_resize_from_h=0, seed_resize_from_w=0):
        self.shape = tuple(map(int, shape))
        self.seeds = seeds
        self.is_first = True
        self.generators = [torch.Generator().manual_seed(int(seed)) for seed in seeds]

    def first(self):
        return torch.stack([torch.randn(self.shape, generator=g) for g in self.generators])

    def next(self):
        if self.is_first:
            self.is_first = False
            return self.first()
        return torch.stack([torch.randn(self.shape, generator=g) for g in self.generators])
