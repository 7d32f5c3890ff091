"""PCL's face-step views: the reference's distance crops by default, SimCLR's recipe on request."""
import torch

from facessl.methods.pcl_views import PCLViews


def _batch():
    torch.manual_seed(0)
    return torch.rand(4, 3, 32, 32)


def test_simclr_face_views_are_two_random_views_of_the_right_shape():
    views = PCLViews(32, face_views="simclr")
    x = _batch()
    torch.manual_seed(1)
    v1, v2 = views.face(x)
    assert v1.shape == v2.shape == x.shape
    assert not torch.allclose(v1, v2)


def test_default_face_views_are_the_distance_crops():
    from facessl.augment.recipes import PCLFaceViews

    assert isinstance(PCLViews(32)._face_views, PCLFaceViews)
    assert not isinstance(PCLViews(32, face_views="simclr")._face_views, PCLFaceViews)
