"""Face detectors: one class per file, registered under ``extract.detect``.

``detect(images)`` returns, for each BGR image, a list of ``(box, score)`` or ``(box, score, angle)``: the box
(x, y, w, h) in dlib's box convention (so the 68-point predictor fits it), and where the detector knows it the
angle in degrees that makes the face upright (lib.rotation); without one the face is taken as upright. An
angle of None says the detector found a face but cannot tell its tilt (lib.rotation.retry looks further).
"""
