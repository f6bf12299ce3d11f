"""Preview convert settings on a few sample frames: one PNG grid, so you pick settings before a long convert.

Rows are sample faces spread over the input; columns are the original, the base settings (the first value
of each option below, convert's defaults when not given), then one column per other value of each option,
changed one at a time from the base. With no option given, every mask and colour plugin is shown.

example: python tools.py preview -i A.mp4 -m model_dir -o grid.png -c avg-color color-transfer --mask-blur 2 8
"""
from __future__ import annotations

from lib import registry


def add_arguments(parser) -> None:
    parser.add_argument("-i", "--input", required=True, metavar="PATH", help="video or folder of frames to convert")
    parser.add_argument("-m", "--model-dir", required=True, metavar="DIR", help="model folder written by 'train -m'")
    parser.add_argument("-o", "--output", required=True, metavar="PNG", help="the grid image to write (.png)")
    parser.add_argument("-p", "--alignments", metavar="FILE",
                        help="alignments file (default: beside the input; faces are detected when there is none)")
    parser.add_argument("--samples", type=int, default=4, help="sample faces, spread over the input (default 4)")
    parser.add_argument("--swap-model", action="store_true", help="swap B -> A instead of A -> B")
    parser.add_argument("-M", "--mask-type", nargs="+", choices=registry.names("convert.mask"), help="masks to compare")
    parser.add_argument("--mask-blur", nargs="+", type=float, help="mask edge blurs to compare (percent of the crop)")
    parser.add_argument("--mask-erode", nargs="+", type=float, help="mask erosions to compare (percent; <0 grows)")
    parser.add_argument("-c", "--color-adjustment", nargs="+", choices=registry.names("convert.color"),
                        help="colour plugins to compare")
    parser.add_argument("-S", "--scaling", nargs="+", choices=registry.names("convert.scaling"),
                        help="scaling plugins to compare")
    parser.add_argument("--detail", nargs="+", type=float, help="convert --detail values to compare (0-1)")


def run(args) -> int:
    from lib.jobs import params_from_args
    from lib.jobs.preview import PreviewParams, run as preview
    result = preview(params_from_args(PreviewParams, args))
    print(f"wrote {result['output']}: {result['samples']} sample face(s) x {result['columns']} setting(s) "
          f"(+ original)")
    return 0
