"""Batched on-device augmentation with per-sample randomness, and per-method view recipes.

Inputs and outputs are float (N,3,H,W) images in [0,1] on any device; every transform is an
nn.Module, random per sample, reproducible under torch.manual_seed.

    from facessl import augment
    views = augment.simclr_views(64)            # [pipeline, pipeline]
    v1, v2 = (t(x) for t in views)
    f1, f2 = augment.pcl_face_views(64)(x)       # distance crop + PCL colour recipe
    p = augment.pose_preserving(64)(x)           # colour only, geometry kept
"""
from facessl.augment.base import Compose, RandomTransform
from facessl.augment.color import (ColorJitter, GaussianBlur, GaussianNoise, RandomGrayscale, Sobel,
                                   adjust_hue, blur, grey, sobel_edges)
from facessl.augment.geometry import (HorizontalFlip, RandomResizedCrop, Resize, Rotate, crop_resize,
                                      distance_boxes, distance_crop, hflip, resize)
from facessl.augment.recipes import PCLFaceViews, pcl_colour, pcl_face_views, pose_preserving, simclr_views

__all__ = ["Compose", "RandomTransform", "ColorJitter", "GaussianBlur", "GaussianNoise", "RandomGrayscale",
           "Sobel", "HorizontalFlip", "RandomResizedCrop", "Resize", "Rotate", "PCLFaceViews",
           "adjust_hue", "blur", "crop_resize", "distance_boxes", "distance_crop", "grey", "hflip", "resize",
           "sobel_edges", "pcl_colour", "pcl_face_views", "pose_preserving", "simclr_views"]
