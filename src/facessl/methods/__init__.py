"""Registry of self-supervised methods, imported lazily by name.

Constructor convention (every method follows it; the trainer and facessl.load rely on it)::

    method = cls(cfg.method, backbone=cfg.backbone, image_size=cfg.data.size)

- `cls.Config` is a dataclass subclassing facessl.config.MethodConfig (which holds `name`); it lists
  the method's own keys with defaults and types, and the config loader validates the YAML `method:`
  section against it (unknown keys and wrong types are errors). `cfg.method` is an instance of it.
- `backbone` is a facessl.config.BackboneConfig (name, width); `image_size` the square input size.
- The method receives batches on the device with images still uint8 and converts them itself
  (`images.float() / 255`), then applies its own views (facessl.augment) inside forward.
- A method must be rebuildable from its saved config alone: facessl.load() calls this constructor
  and then loads model.safetensors into it with strict key/shape checks.
"""
from __future__ import annotations

import importlib

from facessl.errors import FacesslError

METHODS = {
    "simclr": "facessl.methods.simclr:SimCLR",
    "pcl": "facessl.methods.pcl:PCL",
    "fabnet": "facessl.methods.fabnet:FAbNet",
}


def method_class(name: str):
    """The Method subclass registered under `name` (imported on first use)."""
    if name not in METHODS:
        raise FacesslError(f"unknown method {name!r}; known methods: {', '.join(METHODS)}")
    module_name, _, attr = METHODS[name].partition(":")
    return getattr(importlib.import_module(module_name), attr)


def build_method(cfg):
    """Construct the method a facessl.config.Config describes (not yet on any device)."""
    cls = method_class(cfg.method.name)
    return cls(cfg.method, backbone=cfg.backbone, image_size=cfg.data.size)
