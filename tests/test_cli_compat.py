"""Command lines of the older open-source faceswap work here (issue 13).

Two halves: the six command lines from published write-ups run verbatim on real faces (file names moved into a
temp folder, training cut to a couple of steps), and every flag of the older tool's extract, train, convert and
tools, kept below as data, parsed to the option it means here or to its one "not available" line.
"""
import argparse
import json
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, run_cli, shared

sys.path.insert(0, str(ROOT))
import faceswap  # noqa: E402
import tools  # noqa: E402
from lib import upstream  # noqa: E402
from lib.cli import parse_command_line  # noqa: E402
from lib.errors import FaceswapError  # noqa: E402

JAMIE = "jamie_oliver/video_oliver_voxceleb_00086.mp4"       # 130 frames, 224x224
CHRISTIE = "chris_christie/video_christie_voxceleb_00015.mp4"  # 174 frames, 224x224
TINY = ["-it", "2", "-bs", "2", "-O", "width=0.25", "-O", "dense=64"]  # a couple of steps of a slim model


def _lines(proc, prefix):
    return [line for line in proc.stderr.splitlines() if line.startswith(prefix)]


def _faces(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.png"))


def _alignments_faces(path: Path) -> dict:
    return {frame: len(faces) for frame, faces in json.loads(path.read_text())["frames"].items()}


# ------------------------------------------------------------------------------------------ the six command lines
@pytest.mark.slow
def test_extract_with_s3fd_runs_the_closest_offline_detector(tmp_path):
    # python faceswap.py extract -i video.mp4 -o extract -D s3fd
    video = tmp_path / "video.mp4"
    shutil.copy(shared(JAMIE), video)
    proc = run_cli("faceswap.py", "extract", "-i", video, "-o", tmp_path / "extract", "-D", "s3fd")
    assert _lines(proc, "WARNING") == ["WARNING -D s3fd: s3fd needs weights that cannot be downloaded here; yunet "
                                       "(our default, its weights ship with it) and dlib-cnn are the offline "
                                       "detectors closest to it: running yunet"], proc.stderr
    counts = _alignments_faces(tmp_path / "video_alignments.json")
    assert len(counts) == 130 and sum(counts.values()) >= 120
    detectors = {face["detector"] for faces in json.loads((tmp_path / "video_alignments.json").read_text())["frames"]
                 .values() for face in faces}
    assert detectors == {"yunet"}
    assert len(_faces(tmp_path / "extract")) == sum(counts.values())


@pytest.fixture
def fixed_folder(tmp_path, faces_of):
    """A tutorial's layout: video_alignments.json and a copy of the faces, extract_fixed, to edit by hand."""
    faces = faces_of(JAMIE, 4)
    shutil.copy(faces.parent / "alignments.json", tmp_path / "video_alignments.json")
    shutil.copytree(faces, tmp_path / "extract_fixed")
    return tmp_path


def test_remove_faces_with_the_older_spellings_drops_the_deleted_faces(fixed_folder):
    # python tools.py alignments -j remove-faces -a video_alignments.json -fc extract_fixed
    alignments, fixed = fixed_folder / "video_alignments.json", fixed_folder / "extract_fixed"
    before = _alignments_faces(alignments)
    deleted = _faces(fixed)[:3]
    gone = {json.loads(Image.open(p).text["faceswap"])["frame"] for p in deleted}
    for path in deleted:
        path.unlink()
    proc = run_cli("tools.py", "alignments", "-j", "remove-faces", "-a", alignments, "-fc", fixed)
    assert "INFO -fc is the older faceswap's spelling of -f/-c/--faces" in proc.stderr
    after = _alignments_faces(alignments)
    assert sum(after.values()) == sum(before.values()) - 3
    assert all(after[frame] == 0 for frame in gone)


def test_leftover_faces_with_o_move_moves_the_stray_faces_beside_the_folder(fixed_folder, faces_of):
    # python tools.py alignments -j leftover-faces -a video_alignments.json -fc extract_fixed -o move
    alignments, fixed = fixed_folder / "video_alignments.json", fixed_folder / "extract_fixed"
    stray = _faces(faces_of(CHRISTIE, 4))[0]
    shutil.copy(stray, fixed / stray.name)
    kept = {p.name for p in _faces(fixed)} - {stray.name}
    proc = run_cli("tools.py", "alignments", "-j", "leftover-faces", "-a", alignments, "-fc", fixed, "-o", "move")
    moved_to = fixed_folder / "extract_fixed_leftover-faces"
    assert f"WARNING -o move: moving what is found to {moved_to}" in proc.stderr
    assert [p.name for p in _faces(moved_to)] == [stray.name]
    assert {p.name for p in _faces(fixed)} == kept


@pytest.fixture(scope="module")
def villain_model(tmp_path_factory, faces_of):
    """python faceswap.py train -A data/src -ala original -B data/b -alb b/output -m model -t villain -w"""
    root = tmp_path_factory.mktemp("tutorial")
    shutil.copytree(faces_of(JAMIE, 4), root / "data" / "src")
    shutil.copytree(faces_of(CHRISTIE, 4), root / "data" / "b")
    proc = run_cli("faceswap.py", "train", "-A", root / "data" / "src", "-ala", root / "original", "-B",
                   root / "data" / "b", "-alb", root / "b" / "output", "-m", root / "model", "-t", "villain", "-w",
                   *TINY)
    return root / "model", proc


@pytest.mark.slow
def test_train_with_alignments_files_ignores_them_and_trains_villain(villain_model):
    from lib.model.store import read_meta
    model, proc = villain_model
    assert _lines(proc, "WARNING -al") == ["WARNING -ala: face PNGs carry their own alignments: not needed",
                                           "WARNING -alb: face PNGs carry their own alignments: not needed"]
    meta = read_meta(model)
    assert meta["plugin"] == "villain" and meta["iterations"] == 2
    assert (model / "preview.png").stat().st_size > 0  # -w


@pytest.mark.slow
def test_train_wl_is_warp_to_landmarks_not_w_with_a_value(tmp_path, faces_of):
    # python faceswap.py train -A a -B b -m model -t realface -wl
    from lib.model.store import read_meta
    proc = run_cli("faceswap.py", "train", "-A", faces_of(JAMIE, 4), "-B", faces_of(CHRISTIE, 4), "-m",
                   tmp_path / "model", "-t", "realface", "-wl", *TINY)
    assert "INFO -wl is the older faceswap's spelling of -M/--warp-to-landmarks" in proc.stderr
    assert read_meta(tmp_path / "model")["plugin"] == "realface"
    assert not (tmp_path / "model" / "preview.png").exists()  # -w was not switched on by '-wl'


@pytest.mark.slow
def test_convert_ref_is_the_reference_video_not_r_with_ef(tmp_path, villain_model):
    # python faceswap.py convert -i original -o output -m model -ref video.mp4
    model, _ = villain_model
    video = shared(JAMIE)
    original = tmp_path / "original"
    original.mkdir()
    capture = cv2.VideoCapture(str(video))
    for index in range(4):
        ok, frame = capture.read()
        assert ok
        cv2.imwrite(str(original / f"video_{index:06d}.png"), frame)
    capture.release()
    proc = run_cli("faceswap.py", "convert", "-i", original, "-o", tmp_path / "output", "-m", model, "-ref", video)
    assert "INFO -ref is the older faceswap's spelling of -r/--ref" in proc.stderr
    written = _faces(tmp_path / "output")
    assert [p.name for p in written] == [p.name for p in _faces(original)]
    for out in written:
        assert "synthetic" in Image.open(out).text.get("Comment", "")
        changed = np.abs(cv2.imread(str(out)).astype(int) - cv2.imread(str(original / out.name)).astype(int))
        assert changed.max(axis=2).astype(bool).mean() > 0.05  # a face was pasted, not just the label


# ------------------------------------------------------------------------------------------ every older flag
PROGRAM = {name: ("faceswap.py", faceswap.COMMANDS) for name in faceswap.COMMANDS}
PROGRAM.update({name: ("tools.py", tools.TOOLS) for name in tools.TOOLS})
BASE = {  # the options each command needs, before the flag under test
    "extract": "extract -i {tmp}/v.mp4 -o {tmp}/out", "train": "train -A a -B b -m m",
    "convert": "convert -i in.mp4 -o {tmp}/out -m m", "alignments": "alignments -j stats",
    "effmpeg": "effmpeg -a get-info -i v.mp4", "mask": "mask", "model": "model -j info -m m",
    "preview": "preview -i v.mp4 -m m -o g.png", "sort": "sort -i f",
}
# "command | the older flag(s) | what it means here". Checks: dest=value (our option; a Python literal or a
# string), note:text (accepted, this line is logged), error:text (one ERROR line), done:text (exit 0 with the
# line), effect:key=value (a global option applied before the command runs); several joined by " & ".
FLAGS = """
extract | -L DEBUG | effect:loglevel='debug'
extract | -L VERBOSE | effect:loglevel='info'
extract | --loglevel TRACE | effect:loglevel='debug'
sort | -L INFO | effect:loglevel='info'
extract | -C settings.ini | note:.ini plugin settings are not read here
train | --configfile train.ini | note:.ini plugin settings are not read here
extract | -F {tmp}/log.txt | effect:logfile='{tmp}/log.txt'
extract | --logfile {tmp}/log.txt | effect:logfile='{tmp}/log.txt'
extract | -LF {tmp}/log.txt | effect:logfile='{tmp}/log.txt'
extract | -X 0 | effect:exclude_gpus=[0]
train | --exclude-gpus 1 0 | effect:exclude_gpus=[0, 1]
extract | -G | note:no effect here
convert | -gui | note:no effect here
train | --gui | note:no effect here
extract | -colab | note:no effect here
extract | --colab | note:no effect here

extract | --input-dir {tmp}/x.mp4 | input=['{tmp}/x.mp4']
extract | -i {tmp}/x.mp4 | input=['{tmp}/x.mp4']
extract | -o {tmp}/o2 | output='{tmp}/o2'
extract | --output-dir {tmp}/o2 | output='{tmp}/o2'
extract | -p a.json | alignments='a.json'
extract | --alignments a.json | alignments='a.json'
extract | -al a.json | alignments='a.json'
extract | -b | note:--batch-mode: extracting each
extract | --batch-mode | note:--batch-mode: extracting each
extract | -D mtcnn | detector='mtcnn'
extract | -D s3fd | detector='yunet' & note:s3fd needs weights that cannot be downloaded here
extract | --detector retinaface | detector='yunet' & note:retinaface needs weights
extract | -D cv2-dnn | detector='yunet' & note:cv2-dnn needs weights
extract | -D file | error:importing detections from a file
extract | -D external | error:importing detections from a file
extract | -D manual | error:manual detector is not available
extract | -A fan | aligner='dlib-68' & note:fan needs weights
extract | --aligner hrnet | aligner='dlib-68' & note:hrnet needs weights
extract | -A cv2-dnn | aligner='dlib-68' & note:cv2-dnn needs weights
extract | -A file | error:importing landmarks
extract | -A external | error:importing landmarks
extract | -M bisenet-fp | masks=['components', 'extended'] & note:bisenet-fp needs weights
extract | -M unet-dfl vgg-clear vgg-obstructed custom | masks=['components', 'extended'] & note:vgg-clear needs weights
extract | --masker components | masks=['components']
extract | -M extended | masks=['extended']
extract | -O clahe | note:no face normalization
extract | --normalization hist | note:no face normalization
extract | -nm mean | note:no face normalization
extract | -R 1 | note:re-feeding the aligner
extract | --re-feed 2 | note:re-feeding the aligner
extract | -rf 1 | note:re-feeding the aligner
extract | -a | note:re-aligning is not available
extract | --re-align | note:re-aligning is not available
extract | -g | note:alignment filters are not available
extract | --align-filters | note:alignment filters are not available
extract | -r 90 | note:already tried again rotated
extract | --rotate-images on | note:already tried again rotated
extract | -I | note:dlib-resnet identity is stored
extract | -I vggface2 | note:dlib-resnet identity is stored
extract | --identity vggface2 | identity='auto' & note:vggface2 needs weights
extract | --identity t-face | identity='auto' & note:t-face needs weights
extract | -m 40 | min_size=40
extract | --min-size 40 | min_size=40
extract | -min 40 | min_size=40
extract | -x 100 | note:no largest-face filter
extract | --max-size 100 | note:no largest-face filter
extract | -n host.jpg | nfilter=['host.jpg'] & every_n=1 & note:reading these photos as --nfilter
extract | --nfilter host.jpg | nfilter=['host.jpg']
extract | -f me.jpg | filter=['me.jpg']
extract | --filter me.jpg | filter=['me.jpg']
extract | -l 0.5 | ref_threshold=0.5
extract | --ref_threshold 0.5 | ref_threshold=0.5
extract | -z 512 | size=512
extract | --size 512 | size=512
extract | -sz 512 | size=512
extract | -N 5 | every_n=5
extract | --extract-every-n 5 | every_n=5
extract | -een 5 | every_n=5
extract | -u 10 | note:no minimum-scale filter
extract | --min-scale 10 | note:no minimum-scale filter
extract | -v 100 | note:saved at the end and on Ctrl-C
extract | --save-interval 100 | note:saved at the end and on Ctrl-C
extract | -si 100 | note:saved at the end and on Ctrl-C
extract | -B | note:alignments -j draw
extract | --debug-landmarks | note:alignments -j draw
extract | -dl | note:alignments -j draw
extract | -c | note:no effect here
extract | --compile | note:no effect here
extract | -k | note:no effect here
extract | --benchmark | note:no effect here
extract | -s | skip_existing=True
extract | --skip-existing | skip_existing=True
extract | -e | skip_existing=True & note:whether or not they had faces
extract | --skip-existing-faces | skip_existing=True
extract | -sf | skip_existing=True
extract | -K | no_faces=True
extract | --skip-saving-faces | no_faces=True
extract | -ssf | no_faces=True
extract | -P | note:every stage runs in threads
extract | --singleprocess | note:every stage runs in threads
extract | -sp | note:every stage runs in threads

train | -A a2 | input_A='a2'
train | --input-A a2 | input_A='a2'
train | -B b2 | input_B='b2'
train | --input-B b2 | input_B='b2'
train | -m m2 | model_dir='m2'
train | --model-dir m2 | model_dir='m2'
train | -ala x.json | note:face PNGs carry their own alignments: not needed
train | --alignments-A x.json | note:face PNGs carry their own alignments: not needed
train | -alb y.json | note:face PNGs carry their own alignments: not needed
train | --alignments-B y.json | note:face PNGs carry their own alignments: not needed
train | -l w.h5 | error:loading weights from another model
train | --load-weights w.h5 | error:loading weights from another model
train | -t original | trainer='original'
train | -t lightweight | trainer='lightweight'
train | -t iae | trainer='iae'
train | -t dfaker | trainer='dfaker'
train | -t dfl-h128 | trainer='dfl-h128'
train | -t dfl-sae | trainer='dfl-sae'
train | -t realface | trainer='realface'
train | -t unbalanced | trainer='unbalanced'
train | --trainer villain | trainer='villain'
train | -t phaze-a | error:the closest model here is dfl-sae
train | -t dlight | error:the closest model here is dfaker
train | -u | error:tools.py model -j info
train | --summary | error:tools.py model -j info
train | -su | error:tools.py model -j info
train | -f | freeze=['encoder'] & note:freezing the encoder
train | --freeze-weights | freeze=['encoder'] & note:freezing the encoder
train | -b 8 | batch_size=8
train | --batch-size 8 | batch_size=8
train | -bs 8 | batch_size=8
train | -i 10 | iterations=10
train | --iterations 10 | iterations=10
train | -it 10 | iterations=10
train | --warmup 100 | warmup=100
train | -a 100 | warmup=100
train | -d | distributed=True
train | --distributed | distributed=True
train | -D mirrored | distributed=True
train | --distribution-strategy central-storage | distributed=True
train | -D default | distributed=False
train | -g 2 | distributed=True
train | --gpus 1 | distributed=False & note:one GPU is the default
train | -n | note:only with --tensorboard
train | --no-logs | note:only with --tensorboard
train | -nl | note:only with --tensorboard
train | -r | note:no learning-rate finder
train | --use-lr-finder | note:no learning-rate finder
train | -s 100 | save_interval=100
train | --save-interval 100 | save_interval=100
train | -I 1000 | snapshot_interval=1000
train | --snapshot-interval 1000 | snapshot_interval=1000
train | -ss 1000 | snapshot_interval=1000
train | -x ta | timelapse_input_A='ta'
train | --timelapse-input-A ta | timelapse_input_A='ta'
train | -tia ta | timelapse_input_A='ta'
train | -y tb | timelapse_input_B='tb'
train | --timelapse-input-B tb | timelapse_input_B='tb'
train | -tib tb | timelapse_input_B='tb'
train | -z to | timelapse_output='to'
train | --timelapse-output to | timelapse_output='to'
train | -to to | timelapse_output='to'
train | -p | write_image=True & note:no preview window here
train | --preview | write_image=True & note:no preview window here
train | -w | write_image=True
train | --write-image | write_image=True
train | -M | warp_to_landmarks=True
train | --warp-to-landmarks | warp_to_landmarks=True
train | -wl | warp_to_landmarks=True & write_image=False
train | -P | no_flip=True
train | --no-flip | no_flip=True
train | -nf | no_flip=True
train | -c | no_augment_color=True
train | --no-augment-color | no_augment_color=True
train | -nac | no_augment_color=True
train | -W | no_warp=True
train | --no-warp | no_warp=True
train | -nw | no_warp=True
train | -ps 50 | note:preview.png is written at the model's size
train | --preview-scale 50 | note:preview.png is written at the model's size
train | -msg | note:lower -b if memory runs short
train | --memory-saving-gradients | note:lower -b if memory runs short
train | -o | note:lower -b if memory runs short
train | --optimizer-savings | note:lower -b if memory runs short
train | -pp | note:both sides train in every step
train | --ping-pong | note:both sides train in every step
train | -ag | effect:allow_growth=True
train | --allow-growth | effect:allow_growth=True

convert | -i x.mp4 | input='x.mp4'
convert | --input-dir x.mp4 | input='x.mp4'
convert | -o {tmp}/o2 | output='{tmp}/o2'
convert | --output-dir {tmp}/o2 | output='{tmp}/o2'
convert | -p a.json | alignments='a.json'
convert | --alignments a.json | alignments='a.json'
convert | -al a.json | alignments='a.json'
convert | -r v.mp4 | ref='v.mp4'
convert | --reference-video v.mp4 | ref='v.mp4'
convert | -ref v.mp4 | ref='v.mp4'
convert | -m m2 | model_dir='m2'
convert | --model-dir m2 | model_dir='m2'
convert | -c avg-color | color_adjustment='avg-color'
convert | -c color-transfer | color_adjustment='color-transfer'
convert | -c match-hist | color_adjustment='match-hist'
convert | -c seamless-clone | color_adjustment='seamless-clone'
convert | --color-adjustment none | color_adjustment='none'
convert | -c manual-balance | color_adjustment='none' & note:manual-balance took its settings
convert | -M extended | mask_type='extended'
convert | -M components | mask_type='components'
convert | -M none | mask_type='none'
convert | --mask-type predicted | mask_type='predicted'
convert | -M bisenet-fp | mask_type='extended' & note:bisenet-fp needs weights
convert | -M vgg-clear | mask_type='extended' & note:vgg-clear needs weights
convert | -M vgg-obstructed | mask_type='extended' & note:vgg-obstructed needs weights
convert | -M unet-dfl | mask_type='extended' & note:unet-dfl needs weights
convert | -M custom | mask_type='extended'
convert | -w opencv | writer='images' & note:opencv writer wrote image files
convert | -w pillow | writer='images' & note:the pillow writer wrote image files
convert | -w ffmpeg | writer='ffmpeg' & output='{tmp}/out/in_converted.mp4'
convert | -w gif | writer='gif' & output='{tmp}/out/in_converted.gif'
convert | --writer opencv -o {tmp}/s.mp4 | writer='opencv' & output='{tmp}/s.mp4'
convert | -w patch | error:the patch writer
convert | -O 50 | note:written at the input's size
convert | --output-scale 50 | note:written at the input's size
convert | -osc 50 | note:written at the input's size
convert | -R 10-20 | frame_ranges=['10-20']
convert | --frame-ranges 10-20 30-40 | frame_ranges=['10-20', '30-40']
convert | -fr 10-20 | frame_ranges=['10-20']
convert | -S 10 | scaling='none' & note:the swapped face is not rescaled here
convert | --face-scale 10 | note:the swapped face is not rescaled here
convert | -S sharpen | scaling='sharpen'
convert | -sc sharpen | scaling='sharpen'
convert | --scaling sharpen | scaling='sharpen'
convert | -a faces | error:tools.py alignments -j remove-faces
convert | --input-aligned-dir faces | error:tools.py alignments -j remove-faces
convert | -n x.jpg | nfilter=['x.jpg']
convert | --nfilter x.jpg | nfilter=['x.jpg']
convert | -f x.jpg | filter=['x.jpg']
convert | --filter x.jpg | filter=['x.jpg']
convert | -l 0.4 | ref_threshold=0.4
convert | --ref_threshold 0.4 | ref_threshold=0.4
convert | -j 4 | note:convert runs its stages in threads
convert | --jobs 4 | note:convert runs its stages in threads
convert | -T | note:detected on the fly
convert | --on-the-fly | note:detected on the fly
convert | -otf | note:detected on the fly
convert | -k | keep_unchanged=True
convert | --keep-unchanged | keep_unchanged=True
convert | -s | swap_model=True
convert | --swap-model | swap_model=True
convert | -P | note:every stage runs in threads
convert | --singleprocess | note:every stage runs in threads
convert | -sp | note:every stage runs in threads
convert | -t original | note:the model folder says which model
convert | --trainer original | note:the model folder says which model
convert | -g 1 | note:convert runs on the first GPU
convert | --gpus 1 | note:convert runs on the first GPU
convert | -ag | effect:allow_growth=True
convert | --allow-growth | effect:allow_growth=True

alignments | -j draw | job='draw'
alignments | -j extract | job='extract'
alignments | -j export | job='export'
alignments | -j missing-frames | job='missing-frames'
alignments | -j multi-faces | job='multi-faces'
alignments | -j no-faces | job='no-faces'
alignments | -j remove-faces | job='remove-faces'
alignments | -j leftover-faces | job='leftover-faces'
alignments | -j merge | job='merge'
alignments | -j rename | job='rename'
alignments | --job spatial | job='spatial'
alignments | -j missing-alignments | job='missing-frames' & note:missing-frames lists both
alignments | -j extract-large | job='extract' & note:faces smaller than -s are scaled up
alignments | -j from-faces | error:from-faces
alignments | -j sort | error:faces keep the order
alignments | -j sort-x | error:faces keep the order
alignments | -j sort-y | error:faces keep the order
alignments | -j remove-frames | error:remove-frames is not available
alignments | -j manual | error:the manual editor is not available
alignments | -j dfl | error:DeepFaceLab
alignments | -j legacy | error:extract again
alignments | -j reformat | error:extract again
alignments | -j fix | done:nothing to fix
alignments | -j update-hashes | done:not by hashes
alignments | -o console | move_to=None & output=None
alignments | -j no-faces -o file | note:the list is printed here
alignments | -j leftover-faces -fc {tmp}/F -o move | move_to='{tmp}/F_leftover-faces'
alignments | -j no-faces -fr {tmp}/frames --output move | move_to='{tmp}/frames_no-faces'
alignments | -j draw -o {tmp}/drawn | output='{tmp}/drawn'
alignments | -a f.json | alignments='f.json'
alignments | --alignments_file f.json | alignments='f.json'
alignments | -c F | faces='F'
alignments | -faces_folder F | faces='F'
alignments | -fc F | faces='F'
alignments | -r V | input='V'
alignments | -frames_folder V | input='V'
alignments | -fr V | input='V'
alignments | -B | error:run the job once per alignments file
alignments | --batch-mode | error:run the job once per alignments file
alignments | -N 2 | note:every frame in the file
alignments | --extract-every-n 2 | note:every frame in the file
alignments | -een 2 | note:every frame in the file
alignments | -z 512 | size=512
alignments | --size 512 | size=512
alignments | -sz 512 | size=512
alignments | -m 20 | note:cuts every face
alignments | --min-size 20 | note:cuts every face
alignments | -ae | note:no effect here
alignments | --align-eyes | note:no effect here
alignments | -l | note:no effect here
alignments | --large | note:no effect here
alignments | -dm | note:no effect here
alignments | --disable-monitor | note:no effect here

effmpeg | -a extract | action='extract'
effmpeg | -a gen-vid | action='gen-vid'
effmpeg | -a get-fps | action='get-fps'
effmpeg | -a mux-audio | action='mux-audio'
effmpeg | -a rescale | action='rescale'
effmpeg | -a rotate | action='rotate'
effmpeg | --action slice | action='slice'
effmpeg | -i x.mp4 | input='x.mp4'
effmpeg | --input x.mp4 | input='x.mp4'
effmpeg | -o y.mp4 | output='y.mp4'
effmpeg | --output y.mp4 | output='y.mp4'
effmpeg | -r v.mp4 | ref='v.mp4'
effmpeg | --reference-video v.mp4 | ref='v.mp4'
effmpeg | -R 25 | fps='25'
effmpeg | --fps 30000/1001 | fps='30000/1001'
effmpeg | -fps 25 | fps='25'
effmpeg | -R -1.0 | fps=None & note:the source's fps
effmpeg | -E .png | format='png'
effmpeg | --extract-filetype .jpg | format='jpg'
effmpeg | -ef .jpeg | format='jpg'
effmpeg | -E .bmp | format='png' & note:bmp frames are not written here
effmpeg | -E .tiff | format='png'
effmpeg | -s 00:00:05 | start='00:00:05'
effmpeg | --start 5 | start='5'
effmpeg | -s 00:00:05 -e 00:00:10 | duration='5'
effmpeg | --end 00:01:00 | duration='60'
effmpeg | -d 00:00:03 | duration='00:00:03'
effmpeg | --duration 3 | duration='3'
effmpeg | -m | note:always take the audio of -r
effmpeg | --mux-audio | note:always take the audio of -r
effmpeg | -T 1 | transpose='clock'
effmpeg | --transpose 90Clockwise | transpose='clock'
effmpeg | -tr 2 | transpose='cclock'
effmpeg | -T (2, 90CounterClockwise) | transpose='cclock'
effmpeg | -T 0 | error:a quarter turn and a flip
effmpeg | -tr 3 | error:a quarter turn and a flip
effmpeg | -D 90 | degrees=90
effmpeg | --degrees 180 | degrees=180
effmpeg | -de 270 | degrees=270
effmpeg | -S 1280x720 | size='1280x720'
effmpeg | --scale 1280x720 | size='1280x720'
effmpeg | -sc 1280x720 | size='1280x720'
effmpeg | -q | note:ffmpeg's own output is never shown
effmpeg | --quiet | note:ffmpeg's own output is never shown
effmpeg | -v | note:-L debug
effmpeg | --verbose | note:-L debug

mask | -a f.json | alignments='f.json'
mask | --alignments f.json | alignments='f.json'
mask | -i frames | input='frames'
mask | --input frames | input='frames'
mask | -I faces -i F | faces='F' & input=None
mask | --input-type faces -i F | faces='F'
mask | -it faces -i F | faces='F'
mask | -I frames -i V | input='V' & faces=None
mask | -B | error:batch mode is not available
mask | --batch-mode | error:batch mode is not available
mask | -M components | masks=['components']
mask | --masker extended | masks=['extended']
mask | -M bisenet-fp | masks=['components', 'extended'] & note:bisenet-fp needs weights
mask | -M vgg-clear | masks=['components', 'extended']
mask | -a f.json -p all | alignments='f.json'
mask | -a f.json -p missing | alignments='f.json' & note:every mask is drawn again
mask | -p output | note:every mask is drawn again
mask | --processing missing | note:every mask is drawn again
mask | -p import | error:importing masks
mask | -m x | error:importing masks
mask | --mask-path x | error:importing masks
mask | -c face | note:mask space
mask | --centering head | note:mask space
mask | -s 128 | note:mask size
mask | --storage-size 128 | note:mask size
mask | -o out | output='out'
mask | --output-folder out | output='out'
mask | -b 3 | note:--mask-blur
mask | --blur_kernel 3 | note:--mask-blur
mask | -t 4 | note:already 0 or 255
mask | --threshold 4 | note:already 0 or 255
mask | -O mask | note:--preview writes faces and masks
mask | --output-type combined | note:--preview writes faces and masks
mask | -ot masked | note:--preview writes faces and masks
mask | -f | note:the face crop's size
mask | --full-frame | note:the face crop's size
mask | -f F | faces='F'

model | -m m2 | model_dir='m2'
model | --model-dir m2 | model_dir='m2'
model | -j nan-scan | job='nan-scan'
model | --job restore | job='restore'
model | -j inference | error:convert uses the model folder as it is
model | -f h5 | note:one format
model | --format saved-model | note:one format
model | -s | note:no effect here
model | --swap-model | note:no effect here

preview | -i x.mp4 | input='x.mp4'
preview | --input-dir x.mp4 | input='x.mp4'
preview | -a f.json | alignments='f.json'
preview | --alignments f.json | alignments='f.json'
preview | -al f.json | alignments='f.json'
preview | -m m2 | model_dir='m2'
preview | --model-dir m2 | model_dir='m2'
preview | -s | swap_model=True
preview | --swap-model | swap_model=True
preview | -ag | effect:allow_growth=True
preview | --allow-growth | effect:allow_growth=True

sort | -i f2 | input='f2'
sort | --input f2 | input='f2'
sort | -o o | output='o'
sort | --output o | output='o'
sort | -B | error:sort one faces folder at a time
sort | --batch-mode | error:sort one faces folder at a time
sort | -s blur | sort_by='blur'
sort | -s blur-fft | sort_by='blur' & note:blur-fft is not available
sort | -s distance | sort_by='identity'
sort | -s face | sort_by='identity' & note:dlib-resnet
sort | -s face-cnn | sort_by='identity'
sort | -s face-cnn-dissim | sort_by='identity'
sort | -s yaw | sort_by='yaw'
sort | -s pitch | sort_by='pitch'
sort | -s roll | sort_by='yaw' & note:roll is not available
sort | -s hist | sort_by='histogram'
sort | -s hist-dissim | sort_by='histogram'
sort | -s color-black | sort_by='brightness'
sort | -s color-gray | sort_by='brightness'
sort | -s color-luma | sort_by='brightness'
sort | -s color-green | sort_by='brightness'
sort | -s color-orange | sort_by='brightness'
sort | -s size | sort_by='size'
sort | -s face-yaw | sort_by='yaw'
sort | -s black-pixels | sort_by='brightness'
sort | --sort-by none | sort_by='identity'
sort | -g blur | group=True & sort_by='blur'
sort | --group-by hist | group=True & sort_by='histogram'
sort | -s face -g face-yaw | group=True & sort_by='yaw'
sort | -g none | group=False
sort | -k | note:copied here by default
sort | --keep | note:copied here by default
sort | -t 0.5 | threshold=0.5
sort | --threshold 0.5 | threshold=0.5
sort | -t -1 | threshold=0.6 & note:'automatic' threshold
sort | --ref_threshold 0.5 | threshold=0.5
sort | -fp folders | group=True
sort | --final-process rename | group=False
sort | -b 10 | bins=10
sort | --bins 10 | bins=10
sort | -I vggface2 | note:dlib-resnet
sort | --identity t-face | note:dlib-resnet
sort | -l | note:no change log
sort | --log-changes | note:no change log
sort | -f log.json | note:no change log
sort | --log-file log.json | note:no change log
sort | -lf log.json | note:no change log
sort | -be CPU | note:no effect here
sort | --backend GPU | note:no effect here
"""
CASES = [tuple(part.strip() for part in line.split(" | ")) for line in FLAGS.strip().splitlines() if line.strip()]


def _parse(command: str, fragment: str, tmp: Path):
    argv = (BASE[command] + " " + fragment).replace("{tmp}", str(tmp))
    # argv splits on spaces, except inside the older tool's "(2, 90CounterClockwise)" choices
    words = argv.replace("(2, ", "(2,\0").split()
    prog, commands = PROGRAM[command]
    return parse_command_line(prog, "", commands, [w.replace("\0", " ") for w in words])


def _plain(value):
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


@pytest.mark.parametrize("command, fragment, expected", CASES, ids=[f"{c}:{f}" for c, f, _ in CASES])
def test_every_older_flag_has_a_meaning_here(command, fragment, expected, tmp_path):
    checks = [check.strip().replace("{tmp}", str(tmp_path)) for check in expected.split(" & ")]
    kinds = {check.split(":", 1)[0] for check in checks}
    if "error" in kinds or "done" in kinds:
        error = FaceswapError if "error" in kinds else upstream.NothingToDo
        with pytest.raises(error) as raised:
            _parse(command, fragment, tmp_path)
        assert checks[0].split(":", 1)[1] in str(raised.value)
        return
    args, notes, effects, spellings = _parse(command, fragment, tmp_path)
    lines = notes + spellings
    for check in checks:
        kind, _, rest = check.partition(":")
        if kind == "note":
            assert any(rest in line for line in lines), lines
        elif kind == "effect":
            key, _, value = rest.partition("=")
            assert effects.get(key) == _literal(value), effects
        else:
            dest, _, value = check.partition("=")
            assert _plain(getattr(args, dest)) == _literal(value), vars(args)
    assert not hasattr(args, "_upstream")


def _literal(text: str):
    import ast
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


HIDDEN_TARGETS = (("--output-type",), ("--processing",))  # ours, what alignments -o move / mask -p all become


def test_the_flag_list_covers_every_older_option_in_the_tables():
    """Every spelling in lib/upstream.py's tables has a case above (the list is the older tool's flags)."""
    fragments = {word for _, fragment, _ in CASES for word in fragment.split()}
    spellings = {s for spec in upstream.COMMANDS.values() for entry in spec["options"]
                 for s in entry.spellings if entry.spellings not in HIDDEN_TARGETS}
    spellings |= {s for entry in upstream.GLOBAL for s in entry.spellings}
    assert sorted(spellings - fragments) == []


def test_older_spellings_name_ours_in_one_line(tmp_path):
    _, _, _, spellings = _parse("train", "-it 5 -bs 2 -tia ta", tmp_path)
    assert spellings == ["-it is the older faceswap's spelling of -i/--iterations",
                         "-bs is the older faceswap's spelling of -b/--batch-size",
                         "-tia is the older faceswap's spelling of -x/--timelapse-input-A"]


@pytest.mark.parametrize("fragment, glued", [("-ref v.mp4", None), ("-rx v.mp4", "-r x"), ("-wl", None),
                                             ("-wk", "-w k"), ("-itx 5", "-it x"), ("-ss5", "-ss 5")])
def test_no_multi_letter_option_is_read_as_a_glued_short_one(fragment, glued, tmp_path, capsys):
    command = "convert" if fragment.startswith("-r") else "train"
    if glued is None:
        _parse(command, fragment, tmp_path)
        return
    with pytest.raises(SystemExit) as raised:
        _parse(command, fragment, tmp_path)
    assert raised.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("ERROR") and f"write '{glued}' with a space" in err[0], err


def test_glued_numbers_and_negative_values_still_parse(tmp_path):
    args = _parse("extract", "-n5 -b8", tmp_path).args
    assert (args.every_n, args.batch_size) == (5, 8)
    args = _parse("convert", "--mask-erode -1.5", tmp_path).args
    assert args.mask_erode == -1.5


def test_help_lists_the_older_plugins_as_not_available_offline():
    proc = run_cli("faceswap.py", "extract", "--help")
    text = " ".join(proc.stdout.split()).replace("- ", "-")  # argparse wraps lines at hyphens
    assert "not available offline: s3fd, retinaface, cv2-dnn" in text
    assert "not available offline: fan, hrnet, cv2-dnn" in text
    assert "not available offline: bisenet-fp, unet-dfl, vgg-clear, vgg-obstructed, custom" in text
    assert "-bs BATCH_SIZE" in run_cli("faceswap.py", "train", "--help").stdout
    assert "s3fd" not in " ".join(_actions_choices("extract"))  # our choices stay our registry's


def _actions_choices(command):
    from lib.cli import build_parser
    prog, commands = PROGRAM[command]
    parser = build_parser(prog, "", commands, command)
    sub = parser._subparsers._group_actions[0].choices[command]
    return [str(c) for a in sub._actions if a.choices for c in a.choices]


def test_older_tool_names_outside_our_commands(tmp_path):
    prog, commands = PROGRAM["model"]
    args, _, _, spellings = parse_command_line(prog, "", commands, ["restore", "-m", "m"])
    assert (args.command, args.job, spellings) == ("model", "restore", ["tools.py restore is tools.py model -j "
                                                                        "restore here"])
    proc = run_cli("tools.py", "manual", "-a", "x.json", check=False)
    assert proc.returncode == 1 and _lines(proc, "ERROR") == [
        "ERROR manual: the manual alignments editor is not available here: check faces with tools.py alignments "
        "-j draw, delete the wrong face PNGs, then run -j remove-faces"]


def test_refused_flag_is_one_error_line_and_done_job_exits_0(tmp_path):
    proc = run_cli("faceswap.py", "train", "-A", tmp_path, "-B", tmp_path, "-m", tmp_path / "m", "-t", "phaze-a",
                   check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert _lines(proc, "ERROR") == ["ERROR -t phaze-a: phaze-a is not available here (its presets and weights live "
                                     "in the older tool); the closest model here is dfl-sae, configurable with -O "
                                     "size=... -O variant=df|liae"]
    proc = run_cli("tools.py", "alignments", "-j", "update-hashes", "-a", tmp_path / "x.json")
    assert proc.stderr.startswith("INFO update-hashes: nothing to update")


def test_logfile_gets_the_log_lines(tmp_path):
    log = tmp_path / "faceswap.log"
    run_cli("tools.py", "alignments", "-j", "fix", "-a", tmp_path / "x.json", "-LF", log)  # exits 0 early
    proc = run_cli("tools.py", "effmpeg", "-a", "get-fps", "-i", shared(JAMIE), "-F", log, "-v")
    assert "25" in proc.stdout
    assert "-v: no effect here" in log.read_text()


def test_namespace_keeps_only_our_dests(tmp_path):
    args = _parse("extract", "-v 100 -P -X 0 -L debug", tmp_path).args
    ours = {a.dest for a in args._parser._actions} | {"loglevel", "config", "command", "_run", "_parser"}
    assert set(vars(args)) <= ours
    assert not any(name.startswith("_upstream") for name in vars(args))


def test_config_toml_after_the_command(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text("[extract]\nmin_size = 33\n")
    assert _parse("extract", f"-C {config}", tmp_path).args.min_size == 33


def test_parser_aliases_are_option_strings_of_our_actions():
    from lib.cli import build_parser
    prog, commands = PROGRAM["train"]
    sub = build_parser(prog, "", commands, "train")._subparsers._group_actions[0].choices["train"]
    table = sub._option_string_actions
    assert table["-it"] is table["--iterations"] and table["-tia"] is table["--timelapse-input-A"]
    assert table["-ala"].help is argparse.SUPPRESS


def test_usage_compatibility_table_names_every_older_spelling():
    import re
    text = (ROOT / "USAGE.md").read_text().split("<!-- section: upstream -->")[1].split("<!-- end: upstream -->")[0]
    names = {s for spec in upstream.COMMANDS.values() for entry in spec["options"] for s in entry.spellings
             if entry.spellings not in HIDDEN_TARGETS}
    names |= {s for entry in upstream.GLOBAL for s in entry.spellings}
    names |= {name for kind, table in upstream.VALUES.items() if not kind.startswith("effmpeg.") for name in table}
    missing = [n for n in sorted(names) if not re.search(rf"(?<![\w-]){re.escape(n)}(?![\w-])", text)]
    assert missing == []
