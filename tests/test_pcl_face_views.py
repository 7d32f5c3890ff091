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


def test_simclr_face_views_take_simclrs_crop_and_colour_options():
    from facessl.augment import simclr_views

    x = _batch()

    def draw(make):
        torch.manual_seed(2)
        return make()

    default = draw(lambda: PCLViews(32, face_views="simclr").face(x))
    for options, recipe in (({"colour_strength": 1.0}, {"colour_strength": 1.0}),
                            ({"crop_max_aspect": 1.0}, {"max_aspect": 1.0}),
                            ({"crop_min_scale": 0.5}, {"scale": (0.5, 1.0)})):
        got = draw(lambda: PCLViews(32, face_views="simclr", **options).face(x))
        first, second = simclr_views(32, **recipe)
        for view, want in zip(got, draw(lambda: (first(x), second(x)))):
            torch.testing.assert_close(view, want)
        assert not torch.allclose(got[0], default[0])
