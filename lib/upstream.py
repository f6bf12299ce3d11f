"""The older open-source faceswap's command lines, mapped onto ours: its spellings, jobs and plugins as data.

People arrive with command lines from its tutorials and forum. Each of its flags (three eras: the 2020
tutorials, the multi-letter switches kept until 2024, today's single letters) is here as one of:

  Alias   another spelling of one of our options, added to that option's own argparse action. ``note``
          spellings (older ones) log one line naming ours when used; the others are upstream's current
          short options, adopted as ours.
  Legacy  a hidden option (help=argparse.SUPPRESS) for a feature we lack or spell differently. ``why`` is
          the one line logged when it is used (``stop``: the line is an ERROR instead, because going on
          would not do what the user meant); without ``why`` the command's fix-up turns it into ours.

Values (plugin, job and method names) work the same way through VALUES: our name to use instead and the
line, or ``use=None`` to stop. Where upstream's short option means something else here, a "rewrite" rule
tells the two apart by the value that follows (``-o move`` in the alignments tool, ``-n photo.jpg`` in
extract). ``lib/cli.py`` calls ``prepare`` (on the parser), ``rewrite`` (on argv) and ``resolve`` (on the
parsed namespace). Our real plugins come from lib/registry.py only; the tables below
hold just what upstream has and we do not.
"""
from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path

from lib.errors import FaceswapError


@dataclass(frozen=True)
class Alias:
    ours: str                   # one of our option strings, e.g. "--iterations"
    spellings: tuple[str, ...]  # upstream spellings of the same option
    note: bool = True           # log a line naming ours when used (False: adopted as our own short option)
    why: str = ""               # the line, when more than "X is the older spelling of Y" needs saying


@dataclass(frozen=True)
class Legacy:
    spellings: tuple[str, ...]
    nargs: object = 0           # 0: a flag; 1: one value; "+"/"*": several
    why: str = ""               # the line when used; empty: a fix-up below handles it
    stop: bool = False          # ERROR instead of a note
    choices: tuple | None = None
    type: object = None

    @property
    def key(self) -> str:
        """The name resolve() knows it by: its first --long spelling, else its first spelling."""
        return next((s for s in self.spellings if s.startswith("--")), self.spellings[0])


@dataclass(frozen=True)
class Value:
    use: object                 # our value (a tuple: several, for list options; "": our default); None: stop
    why: str = ""               # the line; empty: "'old' is the older name of 'use'"
    done: bool = False          # nothing to do here: print the line and exit 0


class NothingToDo(Exception):
    """The older tool's job has nothing to do here (its purpose is met by design): exit 0 with the line."""


def A(ours, *spellings, why=""):  # noqa: N802 - short constructors keep the tables readable
    return Alias(ours, spellings, True, why)


def S(ours, *spellings):  # noqa: N802
    return Alias(ours, spellings, False)


def L(*spellings, nargs=0, why="", stop=False, choices=None, type=None):  # noqa: N802
    return Legacy(spellings, nargs, why, stop, choices, type)


# ------------------------------------------------------------------------------------------------ values
NO_WEIGHTS = "needs weights that cannot be downloaded here"
VALUES: dict[str, dict[str, Value]] = {
    "extract.detect": {
        "s3fd": Value("yunet", f"s3fd {NO_WEIGHTS}; yunet (our default, its weights ship with it) and dlib-cnn are "
                               "the offline detectors closest to it: running yunet"),
        "retinaface": Value("yunet", f"retinaface {NO_WEIGHTS}; running yunet, the closest offline detector "
                                     "(dlib-cnn is the other)"),
        "cv2-dnn": Value("yunet", f"cv2-dnn {NO_WEIGHTS}; running yunet, OpenCV's DNN face detector whose "
                                  "weights ship with it"),
        "file": Value(None, "importing detections from a file is not available here: extract detects faces itself"),
        "external": Value(None, "importing detections from a file is not available here: extract detects faces "
                                "itself"),
        "manual": Value(None, "the manual detector is not available here: extract detects faces itself and "
                              "tools.py alignments -j draw shows them for checking"),
    },
    "extract.align": {
        "fan": Value("dlib-68", f"fan {NO_WEIGHTS}; running dlib-68, the 68-point aligner here"),
        "hrnet": Value("dlib-68", f"hrnet {NO_WEIGHTS}; running dlib-68, the 68-point aligner here"),
        "cv2-dnn": Value("dlib-68", f"cv2-dnn {NO_WEIGHTS}; running dlib-68, the 68-point aligner here"),
        "file": Value(None, "importing landmarks from a file is not available here: extract aligns faces itself"),
        "external": Value(None, "importing landmarks from a file is not available here: extract aligns faces "
                                "itself"),
    },
    "extract.mask": {name: Value(("components", "extended"),
                                 f"{name} {NO_WEIGHTS}; storing the landmark masks components and extended, "
                                 "the closest offline masks")
                     for name in ("bisenet-fp", "unet-dfl", "vgg-clear", "vgg-obstructed", "custom")},
    "convert.mask": {name: Value("extended", f"{name} {NO_WEIGHTS}; blending with extended, the closest "
                                             "offline mask (jaw to brows plus forehead)")
                     for name in ("bisenet-fp", "unet-dfl", "vgg-clear", "vgg-obstructed", "custom")},
    "convert.color": {
        "manual-balance": Value("none", "manual-balance took its settings from the older tool's .ini: using "
                                        "none (no colour change); avg-color, color-transfer and match-hist "
                                        "match colours by themselves"),
    },
    "convert.writer": {
        "pillow": Value("images", "the pillow writer wrote image files: using the images writer"),
        "patch": Value(None, "the patch writer (swapped faces plus matrices for compositing elsewhere) is not "
                             "available here: write frames with -w images or a video"),
    },
    "train.model": {
        "phaze-a": Value(None, "phaze-a is not available here (its presets and weights live in the older tool); "
                               "the closest model here is dfl-sae, configurable with -O size=... -O variant=df|liae"),
        "dlight": Value(None, "dlight is not available here; the closest model here is dfaker (a residual "
                              "decoder that also learns a mask): -t dfaker"),
    },
    "identity": {
        "vggface2": Value("auto", "vggface2 needs weights that cannot be downloaded here: every face's dlib-resnet "
                                  "identity is stored anyway (--identity auto keeps the main person)"),
        "t-face": Value("auto", "t-face needs weights that cannot be downloaded here: every face's dlib-resnet "
                                "identity is stored anyway (--identity auto keeps the main person)"),
    },
    "alignments.job": {
        "missing-alignments": Value("missing-frames", "missing-frames lists both: frames with no entry in the "
                                                      "file and entries with no frame"),
        "extract-large": Value("extract", "extract cuts every face; faces smaller than -s are scaled up"),
        "from-faces": Value(None, "from-faces (rebuild an alignments file from face PNGs) is not available here: "
                                  "extract the video again with -p FILE"),
        "sort": Value(None, "sort (renumber faces left to right) is not available here: faces keep the order "
                            "the detector gave"),
        "sort-x": Value(None, "sort-x is not available here: faces keep the order the detector gave"),
        "sort-y": Value(None, "sort-y is not available here: faces keep the order the detector gave"),
        "remove-frames": Value(None, "remove-frames is not available here: -j missing-frames lists the entries "
                                     "whose frame is gone"),
        "manual": Value(None, "the manual editor is not available here: check faces with -j draw, delete the "
                              "wrong face PNGs, then -j remove-faces"),
        "dfl": Value(None, "exporting to DeepFaceLab is not available here: -j export writes plain JSON"),
        "legacy": Value(None, "alignments files of the older tool are not read here: extract again"),
        "reformat": Value(None, "alignments files of the older tool are not read here: extract again"),
        "fix": Value(None, "nothing to fix: alignments files here are written and checked in one format",
                     done=True),
        "update-hashes": Value(None, "nothing to update: faces are matched to the file by the frame and index in "
                                     "their PNG metadata, not by hashes", done=True),
    },
    "model.job": {
        "inference": Value(None, "an inference-only model is not needed here: convert uses the model folder as "
                                 "it is"),
    },
    "effmpeg.format": {
        ".png": Value("png"), ".jpg": Value("jpg"), ".jpeg": Value("jpg"),
        **{ext: Value("png", f"{ext[1:]} frames are not written here: png, lossless too")
           for ext in (".bmp", ".tif", ".tiff")},
    },
    "effmpeg.transpose": {
        **{v: Value("clock") for v in ("1", "90Clockwise", "(1, 90Clockwise)")},
        **{v: Value("cclock") for v in ("2", "90CounterClockwise", "(2, 90CounterClockwise)")},
        **{v: Value(None, "a quarter turn and a flip in one step is not available here: rotate with "
                          "--transpose clock or cclock, then again with --transpose vflip")
           for v in ("0", "3", "90CounterClockwise&VerticalFlip", "90Clockwise&VerticalFlip",
                     "(0, 90CounterClockwise&VerticalFlip)", "(3, 90Clockwise&VerticalFlip)")},
    },
    "effmpeg.fps": {v: Value("", "the older tool's 'same as the source': the source's fps (or -r's) is the "
                                 "default here") for v in ("-1", "-1.0")},
    "sort.method": {
        "face": Value("identity", "sorting by face similarity uses dlib-resnet identities here: identity"),
        "face-cnn": Value("identity", "face-cnn (landmark similarity) is not available here: identity is the "
                                      "closest"),
        "face-cnn-dissim": Value("identity", "face-cnn-dissim is not available here: identity is the closest"),
        "none": Value("identity", "sorting nothing is not a choice here: faces are ordered by identity (or by "
                                  "-g's key)"),
        "hist": Value("histogram"),
        "hist-dissim": Value("histogram", "hist-dissim is not available here: histogram is the closest"),
        "blur-fft": Value("blur", "blur-fft is not available here: blur (variance of the Laplacian) is the closest"),
        "face-yaw": Value("yaw"),
        "roll": Value("yaw", "roll is not available here: yaw and pitch are"),
        "distance": Value("identity", "distance (from an average face) is not available here: identity is the "
                                      "closest"),
        **{name: Value("brightness", f"{name} is not available here: brightness is the colour key here")
           for name in ("color-black", "color-gray", "color-luma", "color-green", "color-orange", "black-pixels")},
    },
}
# extract -D and convert -D share the detectors; the same tables serve every command that names the plugins
NOT_PLUGINS = ("file", "external", "manual")  # import modes of the older tool, not plugins
PLUGIN_TABLES = ("extract.detect", "extract.align", "extract.mask", "convert.mask", "convert.color",
                 "convert.writer", "train.model")


# ------------------------------------------------------------------------------------------------ options
SORT_METHODS = ("none", "blur", "blur-fft", "distance", "face", "face-cnn", "face-cnn-dissim", "yaw", "pitch",
                "roll", "hist", "hist-dissim", "color-black", "color-gray", "color-luma", "color-green",
                "color-orange", "size", "face-yaw", "black-pixels")
GLOBAL = (  # every upstream command took these after its name
    L("-L", "--loglevel", nargs=1, choices=("info", "verbose", "debug", "trace", "warning", "error"), type=str.lower),
    L("-C", "--configfile", nargs=1),
    L("-F", "--logfile", "-LF", nargs=1),
    L("-X", "--exclude-gpus", nargs="+"),
    L("-G", "--gui", "-gui", why="the GUI flag only redirected output to the older GUI: no effect here"),
    L("-colab", "--colab", why="no effect here"),
)
ALLOW_GROWTH = L("-ag", "--allow-growth")
SINGLE = L("-P", "--singleprocess", "-sp", why="no effect here: every stage runs in threads of one process")

COMMANDS: dict[str, dict] = {
    "extract": {
        "options": (
            S("--min-size", "-m"), S("--size", "-z"), S("--skip-existing", "-s"), S("--every-n", "-N"),
            S("--ref-threshold", "-l"),
            A("--input", "--input-dir"), A("--output", "--output-dir"), A("--alignments", "-al"),
            A("--masks", "--masker"), A("--min-size", "-min"), A("--every-n", "-een", "--extract-every-n"),
            A("--ref-threshold", "--ref_threshold"), A("--size", "-sz"),
            A("--no-faces", "-K", "--skip-saving-faces", "-ssf"),
            A("--skip-existing", "-e", "--skip-existing-faces", "-sf",
              why="frames already in the alignments file are skipped here whether or not they had faces "
                  "(--skip-existing)"),
            L("--batch-mode"),
            L("-O", "--normalization", "-nm", nargs=1,
              why="no face normalization here: the 68-point aligner works on the frame as it is"),
            L("-R", "--re-feed", "-rf", nargs=1, why="re-feeding the aligner is not available here: landmarks are "
                                                    "fitted once (convert smooths them over time)"),
            L("-a", "--re-align", why="re-aligning is not available here: landmarks are fitted once"),
            L("-g", "--align-filters", why="alignment filters are not available here: --identity auto and "
                                            "--min-size drop false detections"),
            L("-r", "--rotate-images", nargs=1, why="frames with no face are already tried again rotated here (30, -30, "
                                                   "60, -60, 90, -90 degrees): set the angles with --rotate"),
            L("-I", nargs="*", why="every face's dlib-resnet identity is stored anyway"),
            L("-x", "--max-size", nargs=1, why="no largest-face filter here: every face above --min-size is kept"),
            L("-u", "--min-scale", nargs=1, why="no minimum-scale filter here: --min-size filters small faces"),
            L("-v", "--save-interval", "-si", nargs=1,
              why="the alignments file is saved at the end and on Ctrl-C (--skip-existing resumes)"),
            L("-B", "--debug-landmarks", "-dl",
              why="landmarks are not drawn on the faces here: tools.py alignments -j draw draws them on frames"),
            L("-c", "--compile", why="no effect here"), L("-k", "--benchmark", why="no effect here"),
            SINGLE,
        ),
        "values": {"detector": "extract.detect", "aligner": "extract.align", "masks": "extract.mask",
                   "identity": "identity"},
        # upstream's -b is --batch-mode (no value), its -n is --nfilter (photos): ours take a number
        "rewrite": ((("-b",), None, "--batch-mode"),
                    (("-n",), r"(?![-+]?\d+$)[^-].*", "--nfilter",
                     "-n is --every-n here (a number): reading these photos as --nfilter")),
    },
    "train": {
        "options": (
            S("--snapshot-interval", "-I"), S("--timelapse-input-A", "-x"), S("--timelapse-input-B", "-y"),
            S("--timelapse-output", "-z"), S("--warp-to-landmarks", "-M"), S("--no-flip", "-P"),
            S("--no-augment-color", "-c"), S("--no-warp", "-W"), S("--distributed", "-d"),
            A("--batch-size", "-bs"), A("--iterations", "-it"), A("--timelapse-input-A", "-tia"),
            A("--timelapse-input-B", "-tib"), A("--timelapse-output", "-to"), A("--warp-to-landmarks", "-wl"),
            A("--no-flip", "-nf"), A("--no-augment-color", "-nac"), A("--no-warp", "-nw"),
            A("--write-image", "-p", "--preview",
              why="no preview window here: -w/--write-image writes <model>/preview.png at every save"),
            L("-ala", "--alignments-A", nargs=1, why="face PNGs carry their own alignments: not needed"),
            L("-alb", "--alignments-B", nargs=1, why="face PNGs carry their own alignments: not needed"),
            L("-l", "--load-weights", nargs=1, stop=True,
              why="loading weights from another model's .h5 file is not available here: start a new model from "
                  "a trained model folder of this faceswap with --from MODEL_DIR"),
            L("-f", "--freeze-weights"),
            L("-u", "--summary", "-su", stop=True,
              why="a model summary is not available here: tools.py model -j info -m DIR shows a model's plugin, "
                  "settings, sizes and iterations"),
            S("--warmup", "-a"),
            L("-n", "--no-logs", "-nl", why="losses are logged only with --tensorboard here: nothing to turn off"),
            L("-r", "--use-lr-finder", why="no learning-rate finder here: --learning-rate sets it (default 5e-5)"),
            L("-ps", "--preview-scale", nargs=1, why="no effect here: preview.png is written at the model's size"),
            L("-msg", "--memory-saving-gradients", why="no effect here: lower -b if memory runs short"),
            L("-o", "--optimizer-savings", why="no effect here: lower -b if memory runs short"),
            L("-pp", "--ping-pong", why="no effect here: both sides train in every step"),
            L("-D", "--distribution-strategy", nargs=1, choices=("default", "central-storage", "mirrored")),
            L("-g", "--gpus", nargs=1),
            ALLOW_GROWTH,
        ),
        "values": {"trainer": "train.model"},
    },
    "convert": {
        "options": (
            S("--swap-model", "-s"),
            A("--input", "--input-dir"), A("--output", "--output-dir"), A("--alignments", "-al"),
            A("--ref", "-ref", "--reference-video"), A("--frame-ranges", "-fr"), A("--scaling", "-sc"),
            A("--ref-threshold", "--ref_threshold"),
            L("-O", "--output-scale", "-osc", nargs=1,
              why="frames are written at the input's size here: tools.py effmpeg -a rescale resizes afterwards"),
            L("--face-scale", nargs=1, why="the swapped face is not rescaled here (-S names the --scaling plugin "
                                            "here)"),
            L("-a", "--input-aligned-dir", nargs=1, stop=True,
              why="converting only the faces left in a faces folder is not available here: first run "
                  "tools.py alignments -j remove-faces -p FILE -f DIR, then convert"),
            L("-j", "--jobs", nargs=1, why="no effect here: convert runs its stages in threads"),
            L("-T", "--on-the-fly", "-otf",
              why="faces are detected on the fly whenever no alignments file is found (-D picks the detector)"),
            L("-t", "--trainer", nargs=1, why="not needed: the model folder says which model it holds"),
            L("-g", "--gpus", nargs=1, why="no effect here: convert runs on the first GPU, or the CPU"),
            SINGLE, ALLOW_GROWTH,
        ),
        "values": {"detector": "extract.detect", "mask_type": "convert.mask", "color_adjustment": "convert.color",
                   "writer": "convert.writer"},
        "rewrite": ((("-S",), r"[-+]?\d+(\.\d*)?", "--face-scale"),),  # upstream's -S scaled the face by %
    },
    "alignments": {
        "options": (
            S("--alignments", "-a"), S("--faces", "-c"), S("--input", "-r"), S("--size", "-z"),
            A("--alignments", "--alignments_file"), A("--faces", "-fc", "-faces_folder"),
            A("--input", "-fr", "-frames_folder"), A("--size", "-sz"),
            L("--output-type", nargs=1, choices=("console", "file", "move")),
            L("-B", "--batch-mode", stop=True, why="batch mode is not available here: run the job once per "
                                                   "alignments file"),
            L("-N", "--extract-every-n", "-een", nargs=1, why="-j extract cuts the faces of every frame in the file"),
            L("-m", "--min-size", nargs=1, why="-j extract cuts every face in the file"),
            L("-ae", "--align-eyes", why="no effect here"), L("-l", "--large", why="no effect here"),
            L("-dm", "--disable-monitor", why="no effect here"),
        ),
        "values": {"job": "alignments.job"},
        "rewrite": ((("-o", "--output"), "console|file|move", "--output-type"),),
    },
    "effmpeg": {
        "options": (
            S("--fps", "-R"), S("--format", "-E"), S("--start", "-s"), S("--duration", "-d"),
            S("--transpose", "-T"), S("--degrees", "-D"), S("--size", "-S"),
            A("--ref", "--reference-video"), A("--fps", "-fps"), A("--format", "-ef", "--extract-filetype"),
            A("--transpose", "-tr"), A("--degrees", "-de"), A("--size", "-sc", "--scale"),
            L("-e", "--end", nargs=1),
            L("-m", "--mux-audio", why="gen-vid and mux-audio always take the audio of -r"),
            L("-q", "--quiet", why="no effect here: ffmpeg's own output is never shown"),
            L("-v", "--verbose", why="no effect here: -L debug before the command logs more"),
        ),
        "values": {"format": "effmpeg.format", "transpose": "effmpeg.transpose", "fps": "effmpeg.fps"},
    },
    "mask": {
        "options": (
            S("--alignments", "-a"), A("--output", "--output-folder"), A("--masks", "--masker"),
            L("-I", "--input-type", "-it", nargs=1, choices=("faces", "frames")),
            L("--processing", nargs=1, choices=("all", "missing", "output", "import")),
            L("-m", "--mask-path", nargs=1, stop=True, why="importing masks is written -f FACES --import FOLDER here (they become "
                                                            "the learned mask's labels); other masks are drawn "
                                                            "from each face's landmarks"),
            L("-B", "--batch-mode", stop=True, why="batch mode is not available here: run once per alignments file"),
            L("-c", "--centering", nargs=1, why="masks are drawn in the alignments file's own mask space here"),
            L("-s", "--storage-size", nargs=1, why="masks are stored at the alignments file's mask size here"),
            L("-b", "--blur_kernel", nargs=1, why="no blur here: convert's --mask-blur feathers the mask"),
            L("-t", "--threshold", nargs=1, why="no threshold here: landmark masks are already 0 or 255"),
            L("-O", "--output-type", "-ot", nargs=1,
              why="-o writes the masks themselves; --preview writes faces and masks side by side"),
            L("--full-frame", why="masks are written at the face crop's size here (-f is --faces here)"),
        ),
        "values": {"masks": "extract.mask"},
        "rewrite": ((("-p",), "all|missing|output|import", "--processing"), (("-f",), None, "--full-frame")),
    },
    "model": {
        "options": (
            L("-f", "--format", nargs=1, why="no effect here: models are saved in one format (model.npz)"),
            L("-s", "--swap-model", why="no effect here"),
        ),
        "values": {"job": "model.job"},
    },
    "preview": {
        "options": (
            S("--alignments", "-a"), S("--swap-model", "-s"), A("--input", "--input-dir"), A("--alignments", "-al"),
            ALLOW_GROWTH,
        ),
        "values": {"mask_type": "convert.mask", "color_adjustment": "convert.color"},
    },
    "sort": {
        "options": (
            S("--threshold", "-t"), S("--bins", "-b"), A("--threshold", "--ref_threshold"),
            L("-g", "--group-by", nargs=1, choices=SORT_METHODS),
            L("-fp", "--final-process", nargs=1, choices=("folders", "rename")),
            L("-k", "--keep", why="faces are copied here by default (--move moves them): the originals stay"),
            L("-B", "--batch-mode", stop=True, why="batch mode is not available here: sort one faces folder at "
                                                   "a time"),
            L("-I", "--identity", nargs=1, why="identities here are dlib-resnet's, stored by extract"),
            L("-l", "--log-changes", why="no change log: faces are copied into -o and the originals stay"),
            L("-f", "--log-file", "-lf", nargs=1, why="no change log: faces are copied into -o and the "
                                                       "originals stay"),
            L("-be", "--backend", nargs=1, why="no effect here"),
        ),
        "values": {"sort_by": "sort.method"},
    },
}

RENAMED_COMMANDS = {"restore": (["model", "-j", "restore"], "tools.py restore is tools.py model -j restore here")}
ABSENT_COMMANDS = {"manual": "the manual alignments editor is not available here: check faces with tools.py "
                             "alignments -j draw, delete the wrong face PNGs, then run -j remove-faces"}

SPELLING = "{spelling} is the older faceswap's spelling of {ours}"


# ------------------------------------------------------------------------------------------------ parser
class _Choices(list):
    """Our choices (what --help and a GUI list) that also admit the older names, answered after parsing."""

    def __init__(self, ours, older):
        super().__init__(ours)
        self.older = frozenset(older)

    def __contains__(self, value):
        return list.__contains__(self, value) or value in self.older


class _Used(argparse.Action):
    """A hidden upstream option: remembers the spelling used and its value for ``resolve``."""

    def __init__(self, *args, key: str = "", **kwargs):
        self.key = key
        super().__init__(*args, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        values = [values] if isinstance(values, str) else list(values or ())
        namespace.__dict__.setdefault("_upstream", {})[self.key] = (option_string, values)


def prepare(command: str, parser: argparse.ArgumentParser) -> None:
    """Give the command's parser the older tool's spellings: aliases on our actions, hidden legacy options,
    older value names admitted by our choices and listed in --help as not available offline."""
    spec = COMMANDS.get(command)
    if spec is None:
        return
    table = parser._option_string_actions
    for entry in spec["options"]:
        if isinstance(entry, Alias) and entry.ours in table:
            action = table[entry.ours]
            new = [s for s in entry.spellings if s not in table]
            for spelling in new:
                table[spelling] = action
            action.option_strings[:] = sorted(action.option_strings + new,
                                              key=lambda s: (s.startswith("--"), len(s) > 2))
    for entry in (*spec["options"], *GLOBAL):
        free = [s for s in entry.spellings if s not in table] if isinstance(entry, Legacy) else []
        if free:
            nargs = {0: 0, 1: None}.get(entry.nargs, entry.nargs)
            parser.add_argument(*free, action=_Used, key=entry.key, nargs=nargs, choices=entry.choices,
                                type=entry.type, dest=f"_upstream{entry.key}", default=argparse.SUPPRESS,
                                help=argparse.SUPPRESS)
    for action in parser._actions:
        kind = spec["values"].get(action.dest)
        if kind is None:
            continue
        older = VALUES[kind]
        if action.choices is not None:
            action.choices = _Choices(action.choices, older)
        if kind in PLUGIN_TABLES and action.help:
            names = [name for name in older if name not in NOT_PLUGINS]
            action.help += f"; not available offline: {', '.join(names)} (see USAGE.md)"
    if parser.epilog is None:
        parser.epilog = ("The older faceswap's spellings of these options, jobs and plugins are accepted: see "
                         "'Coming from the older faceswap' in USAGE.md.")


def rewrite(command: str, argv: list[str]) -> tuple[list[str], list[str]]:
    """argv (after the command name) with the older tool's meaning of a short option we use differently
    turned into its hidden option, told apart by the value that follows: ``-o move`` in the alignments tool,
    ``-n photo.jpg`` in extract (ours takes a number), ``-b`` with no value in extract (ours takes one).
    Also returns the lines for rules that land on one of our own options."""
    out, notes = list(argv), []
    for options, pattern, target, *note in COMMANDS.get(command, {}).get("rewrite", ()):
        for i, token in enumerate(out):
            name, eq, value = token.partition("=")
            if token in options:
                nxt = out[i + 1] if i + 1 < len(out) else None
                if pattern is None:
                    hit = nxt is None or (nxt.startswith("-") and not re_number(nxt))
                else:
                    hit = nxt is not None and re.fullmatch(pattern, nxt) is not None
                if hit:
                    out[i] = target
                    notes += note
            elif eq and name in options and pattern is not None and re.fullmatch(pattern, value):
                out[i] = f"{target}={value}"
                notes += note
    return out, notes


def rename_command(argv: list[str], index: int) -> tuple[list[str], str | None]:
    """argv[index] is a command name we do not have: the older tool's renamed ones are rewritten (with the
    line to log), absent ones stop with their line, any other is left for argparse to refuse."""
    token = argv[index]
    if token in RENAMED_COMMANDS:
        new, line = RENAMED_COMMANDS[token]
        return argv[:index] + new + argv[index + 1:], line
    if token in ABSENT_COMMANDS:
        raise FaceswapError(f"{token}: {ABSENT_COMMANDS[token]}")
    return argv, None


def spelling_notes(command: str, parser, argv: list[str]) -> list[str]:
    """One line for each older spelling of one of our options used in argv."""
    spec = COMMANDS.get(command)
    if spec is None:
        return []
    notes = []
    aliases = {s: entry for entry in spec["options"] if isinstance(entry, Alias) and entry.note
               for s in entry.spellings}
    for token in argv:
        spelling = token.partition("=")[0]
        entry = aliases.get(spelling)
        if entry is None:
            continue
        action = parser._option_string_actions.get(entry.ours)
        ours = "/".join(s for s in action.option_strings if s not in aliases) if action else entry.ours
        notes.append(f"{spelling}: {entry.why}" if entry.why else SPELLING.format(spelling=spelling, ours=ours))
    return notes


# ------------------------------------------------------------------------------------------------ resolve
def resolve(command: str, args: argparse.Namespace) -> tuple[list[str], dict]:
    """Turn what the older spellings asked for into our options, in place. Returns the lines to log and the
    global effects (loglevel, logfile, exclude_gpus, allow_growth) for lib/cli.py to apply (a -C FILE.toml
    after the command is read by lib/cli.py with the config file before the final parse).
    Raises FaceswapError (one line) where going on would not do what the user meant, NothingToDo where the
    job's purpose is already met."""
    spec = COMMANDS.get(command)
    used = vars(args).pop("_upstream", {})
    if spec is None:
        return [], {}
    notes: list[str] = []
    effects = _globals(used, notes)
    for dest, kind in spec["values"].items():
        _map_value(args, dest, kind, notes)
    fix = _FIXES.get(command)
    if fix:
        fix(args, used, notes)
    for entry in spec["options"]:
        if isinstance(entry, Legacy) and entry.key in used:
            spelling, _ = used.pop(entry.key)
            if entry is ALLOW_GROWTH:
                effects["allow_growth"] = True
                notes.append(f"{spelling}: TensorFlow takes GPU memory as it needs it (TF_FORCE_GPU_ALLOW_GROWTH)")
            elif entry.stop:
                raise FaceswapError(f"{spelling}: {entry.why}")
            elif entry.why:
                notes.append(f"{spelling}: {entry.why}")
    return notes, effects


def _globals(used: dict, notes: list[str]) -> dict:
    effects = {}
    if "--loglevel" in used:
        spelling, (level,) = used.pop("--loglevel")
        effects["loglevel"] = {"verbose": "info", "trace": "debug"}.get(level.lower(), level.lower())
    if "--configfile" in used:
        spelling, (path,) = used.pop("--configfile")
        if not path.lower().endswith(".toml"):
            notes.append(f"{spelling} {path}: the older tool's .ini plugin settings are not read here; every "
                         "setting is an option of the command (see --help), and -C FILE.toml before the command "
                         "sets defaults")
    if "--logfile" in used:
        spelling, (path,) = used.pop("--logfile")
        effects["logfile"] = path
    if "--exclude-gpus" in used:
        spelling, ids = used.pop("--exclude-gpus")
        try:
            effects["exclude_gpus"] = sorted({int(i) for i in ids})
        except ValueError:
            raise FaceswapError(f"{spelling} takes GPU numbers (0, 1, ...), not {' '.join(ids)}") from None
    for entry in GLOBAL:
        if entry.why and entry.key in used:
            spelling, _ = used.pop(entry.key)
            notes.append(f"{spelling}: {entry.why}")
    return effects


def _flag(args, dest: str) -> str:
    """How the user would name the option of ``dest``: its first (short) spelling."""
    parser = getattr(args, "_parser", None)
    for action in getattr(parser, "_actions", ()):
        if action.dest == dest and action.option_strings:
            return action.option_strings[0]
    return "--" + dest.replace("_", "-")


def _map_value(args, dest: str, kind: str, notes: list[str]) -> None:
    if not hasattr(args, dest):
        return
    value = getattr(args, dest)
    table = VALUES[kind]
    flag = _flag(args, dest)
    if isinstance(value, list):
        out = []
        for item in value:
            new = _one(flag, item, table, notes)
            for name in (new if isinstance(new, tuple) else (new,)):
                if name not in out:
                    out.append(name)
        setattr(args, dest, out)
    elif isinstance(value, str):
        setattr(args, dest, _one(flag, value, table, notes))


def _one(flag: str, value: str, table: dict, notes: list[str]):
    """Our value for an older ``value`` of option ``flag``, noting the line; stops where there is none."""
    entry = table.get(value)
    if entry is None:
        return value
    if entry.done:
        raise NothingToDo(f"{value}: {entry.why}")
    if entry.use is None:
        raise FaceswapError(f"{flag} {value}: {entry.why}")
    if entry.use == "":
        notes.append(f"{flag} {value}: {entry.why}")
        return None
    shown = " ".join(entry.use) if isinstance(entry.use, tuple) else entry.use
    notes.append(f"{flag} {value}: {entry.why}" if entry.why else f"'{value}' is the older faceswap's name of "
                 f"'{shown}'")
    return entry.use


# ------------------------------------------------------------------------------------------------ fix-ups
def _fix_extract(args, used, notes) -> None:
    if "--batch-mode" in used:
        used.pop("--batch-mode")
        from lib.video import VIDEO_EXTS
        inputs = []
        for item in map(Path, args.input):
            if item.is_dir():
                inputs += sorted(p for p in item.iterdir() if p.is_dir() or p.suffix.lower() in VIDEO_EXTS)
            else:
                inputs.append(item)
        if not inputs:
            raise FaceswapError(f"--batch-mode: {' '.join(args.input)} holds no video or folder to extract")
        notes.append(f"--batch-mode: extracting each of the {len(inputs)} videos/folders in -i "
                     "(here several -i inputs are batch mode)")
        args.input = [str(p) for p in inputs]


def _fix_train(args, used, notes) -> None:
    if "--freeze-weights" in used:
        spelling, _ = used.pop("--freeze-weights")
        args.freeze = sorted(set(args.freeze) | {"encoder"})
        notes.append(f"{spelling}: freezing the encoder (--freeze encoder here; --freeze names any part)")
    if "--distribution-strategy" in used:
        spelling, (strategy,) = used.pop("--distribution-strategy")
        if strategy != "default":
            args.distributed = True
            notes.append(f"{spelling} {strategy}: training on every GPU with --distributed (MirroredStrategy)")
    if "--gpus" in used:
        spelling, (count,) = used.pop("--gpus")
        if count.isdigit() and int(count) > 1:
            args.distributed = True
            notes.append(f"{spelling} {count}: training on every GPU with --distributed")
        else:
            notes.append(f"{spelling} {count}: one GPU is the default here")


def _fix_convert(args, used, notes) -> None:
    """The older tool's -o was always a folder: its opencv and pillow writers wrote images into it, its
    ffmpeg and gif writers a file named after the input inside it."""
    from lib.video import VIDEO_EXTS
    out = Path(args.output)
    names_a_file = out.suffix.lower() in VIDEO_EXTS or (out.suffix and not out.is_dir())
    if args.writer == "opencv" and not names_a_file:
        args.writer = "images"
        notes.append("-w opencv: the older tool's opencv writer wrote image files into -o: using the images writer "
                     "(here -w opencv writes a video file)")
    elif args.writer in ("ffmpeg", "gif") and not names_a_file:
        stem = Path(args.ref or args.input).stem
        args.output = str(out / f"{stem}_converted.{'gif' if args.writer == 'gif' else 'mp4'}")
        out.mkdir(parents=True, exist_ok=True)
        notes.append(f"-w {args.writer} with the folder {out}: writing {args.output}")


def _fix_alignments(args, used, notes) -> None:
    if "--output-type" not in used:
        return
    _, (kind,) = used.pop("--output-type")
    finding = ("leftover-faces", "missing-frames", "no-faces", "multi-faces")
    if kind == "console":
        return
    if args.job not in finding:
        notes.append(f"-o {kind}: only the finding jobs ({', '.join(finding)}) used it; ignored")
    elif kind == "file":
        notes.append("-o file: the list is printed here: send it to a file with > FILE")
    elif not args.move_to:
        folder = args.faces if args.faces and args.job in ("leftover-faces", "multi-faces") else args.input
        if not folder:
            raise FaceswapError(f"-o move: -j {args.job} moves files of -i/-r FRAMES or -f/-c FACES: give one")
        args.move_to = str(Path(folder).parent / f"{Path(folder).name}_{args.job}")
        notes.append(f"-o move: moving what is found to {args.move_to} (--move-to FOLDER chooses another)")


def _seconds(text: str) -> float:
    """Seconds from '12.5' or '[HH:]MM:SS[.ms]' (the older tool's time format)."""
    try:
        parts = [float(p) for p in text.split(":")]
    except ValueError:
        raise FaceswapError(f"--end {text}: give a time as seconds or HH:MM:SS") from None
    total = 0.0
    for part in parts:
        total = total * 60 + part
    return total


def _fix_effmpeg(args, used, notes) -> None:
    if "--end" in used:
        spelling, (end,) = used.pop("--end")
        length = _seconds(end) - _seconds(args.start or "0")
        if length <= 0:
            raise FaceswapError(f"{spelling} {end}: the end must come after the start ({args.start})")
        args.duration = f"{length:g}"
        notes.append(f"{spelling} {end}: cutting --duration {args.duration} seconds from --start {args.start}")


def _fix_mask(args, used, notes) -> None:
    if "--input-type" in used:
        spelling, (kind,) = used.pop("--input-type")
        if kind == "faces" and args.input and not args.faces:
            args.faces, args.input = args.input, None
            notes.append(f"{spelling} faces: -i is a faces folder, -f/--faces here")
    if "--processing" in used:
        _, (kind,) = used.pop("--processing")
        if kind == "import":
            raise FaceswapError("-p import: importing masks is not available here: masks are drawn from each "
                                "face's landmarks (and -p is the alignments file here)")
        if kind != "all":
            notes.append(f"-p {kind}: every mask is drawn again here (-p is the alignments file here; -o writes "
                         "the mask images)")


def _fix_sort(args, used, notes) -> None:
    if "--group-by" in used:
        spelling, (method,) = used.pop("--group-by")
        if method != "none":
            ours = _one(spelling, method, VALUES["sort.method"], notes)
            args.group = True
            if args.sort_by == "identity":  # our default, or upstream's -s face/none: the grouping key decides
                args.sort_by = ours
            notes.append(f"{spelling} {method}: one key sorts and groups here: -s {args.sort_by} --group")
    if "--final-process" in used:
        spelling, (kind,) = used.pop("--final-process")
        if kind == "folders":
            args.group = True
            notes.append(f"{spelling} folders: --group")
    if args.threshold is not None and args.threshold <= 0:
        notes.append(f"-t {args.threshold:g}: the older tool's 'automatic' threshold; using 0.6, the identity "
                     "distance that separates people")
        args.threshold = 0.6


_FIXES = {"extract": _fix_extract, "train": _fix_train, "convert": _fix_convert, "alignments": _fix_alignments,
          "effmpeg": _fix_effmpeg, "mask": _fix_mask, "sort": _fix_sort}


def re_number(text: str) -> bool:
    """A negative number (a value, never an option): -1, -0.5, -1e-3."""
    return bool(re.fullmatch(r"-\d+(\.\d*)?([eE][-+]?\d+)?|-\.\d+", text))
