"""Real faces in (`facessl prepare`): decode videos with PyAV, detect faces (a small detector interface;
MTCNN with weights from an installed wheel, Haar cascades), link detections into tracks, align crops
on the eyes, and write frame trees or tar shards resumably in worker processes."""
