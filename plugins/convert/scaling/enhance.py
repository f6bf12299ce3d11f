"""Scaling 'enhance': the per-person face enhancer (lib/model/enhancer.py) takes the model's small face up to
2-4x its size with the detail it learned from that person's own frames. Train it first with
'tools.py enhance' (or 'swap --enhance'); it lives in the model folder."""
import numpy as np

from lib.registry import register


@register("convert.scaling", "enhance")
class Enhance:
    """Built once per convert with the model folder and the side whose face the model draws."""
    upscales = True       # lib.convert runs it on the model's output before the mask and colour work

    _loaded: dict = {}    # (enhancer file, its mtime) -> Enhancer: the tuner builds one blender per setting

    def __init__(self, model_dir, side: str):
        from lib.model import store
        from lib.model.enhancer import Enhancer, folder
        path = store.model_file(folder(model_dir, side))
        key = (str(path.resolve()), path.stat().st_mtime_ns if path.is_file() else None)
        if key not in self._loaded:
            self._loaded.clear()
            self._loaded[key] = Enhancer.load(model_dir, side)
        self.enhancer = self._loaded[key]

    def output_size(self, size: int) -> int:
        """Side of the face this gives for a model output of ``size`` px."""
        return size * self.enhancer.scale

    def __call__(self, face: np.ndarray) -> np.ndarray:
        """One face, float32 [0, 1] (s, s, 3) -> (s*scale, s*scale, 3)."""
        return self.enhancer(face[None])[0]
