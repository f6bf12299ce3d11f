"""The GUI's forms come from the CLI's own argparse definitions, and a form parses exactly as the CLI would."""
import argparse
import sys
import textwrap
import tomllib

import pytest

from lib import registry
from lib.cli import _load_config
from lib.errors import FaceswapError
from lib.gui import forms
from lib.gui.files import Root


def _fields(command):
    return {f["id"]: f for f in forms.schema(command)["fields"]}


def test_every_command_of_both_programs_has_a_form():
    import faceswap
    import tools
    names = set(forms.commands())
    assert set(tools.TOOLS) <= names
    assert {"extract", "train", "convert", "swap"} <= names
    assert not names & forms.NOT_FORMS
    assert set(faceswap.COMMANDS) - forms.NOT_FORMS <= names


@pytest.mark.parametrize("command", sorted(forms.commands()))
def test_every_visible_flag_appears_with_its_choices_and_default(command):
    parser = forms.build_parser(command)
    fields = forms.schema(command)["fields"]
    by_flags = {tuple(f["flags"]): f for f in fields}
    visible = [a for a in parser._actions
               if a.help is not argparse.SUPPRESS and not isinstance(a, argparse._HelpAction)]
    assert len(fields) == len(visible)
    for action in visible:
        field = by_flags[tuple(action.option_strings)]
        assert field["dest"] == action.dest
        assert field["required"] == action.required
        if action.nargs == 0:
            assert field["kind"] == "bool"
            continue
        if action.choices is not None:
            assert field["kind"] == "choice"
            assert field["choices"] == [forms._json(c) for c in action.choices]
        assert field["default"] == forms._json(action.default)
        assert field["help"]


@pytest.mark.parametrize("command", sorted(forms.commands()))
def test_the_forms_hold_every_option_of_the_cli_s_own_parser(command):
    """Built as faceswap.py/tools.py build it (with the older tool's spellings added by lib/upstream.py): every
    option it shows in --help is a field; the hidden legacy ones are not."""
    from lib.cli import build_parser
    program, _ = forms.commands()[command]
    table = {name: module for name, (prog, module) in forms.commands().items() if prog == program}
    top = build_parser(program, "", table, command)
    cli = next(a for a in top._actions if isinstance(a, argparse._SubParsersAction)).choices[command]
    fields = forms.schema(command)["fields"]
    by_dest = {}
    for f in fields:
        by_dest.setdefault(f["dest"], []).append(f)
    shown = [a for a in cli._actions if a.help is not argparse.SUPPRESS and not isinstance(a, argparse._HelpAction)]
    assert len(shown) == len(fields)
    for action in shown:
        assert any(set(f["flags"]) <= set(action.option_strings) for f in by_dest[action.dest]), action.option_strings
    hidden = {s for a in cli._actions if a.help is argparse.SUPPRESS for s in a.option_strings}
    assert not hidden & {flag for f in fields for flag in f["flags"]}


def test_hidden_legacy_flags_are_left_out():
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("-o", "--output", help="shown")
    parser.add_argument("--old-output", dest="output", help=argparse.SUPPRESS)
    assert [forms.field_id(a) for a in forms.visible_actions(parser)] == ["output"]


def test_choices_come_from_the_plugin_registry():
    fields = _fields("convert")
    assert fields["color-adjustment"]["choices"] == registry.names("convert.color")
    assert fields["mask-type"]["choices"] == registry.names("convert.mask")
    assert fields["writer"]["choices"] == registry.names("convert.writer")
    assert _fields("extract")["detector"]["choices"] == registry.names("extract.detect")


def test_a_new_plugin_appears_in_the_form_with_no_gui_code():
    registry.names("convert.color")
    try:
        @registry.register("convert.color", "zz-test-colour")
        def _colour(new, old, mask):
            return new
        assert "zz-test-colour" in _fields("convert")["color-adjustment"]["choices"]
        ns = forms.parse("convert", {"input": "a.mp4", "output": "b.mp4", "model-dir": "m",
                                     "color-adjustment": "zz-test-colour"})
        assert ns.color_adjustment == "zz-test-colour"
    finally:
        del registry._PLUGINS["convert.color"]["zz-test-colour"]


def test_a_new_command_flag_appears_in_the_form(tmp_path, monkeypatch):
    import tools
    (tmp_path / "gui_demo_tool.py").write_text(textwrap.dedent('''
        """Demo tool: one line of help."""
        def add_arguments(parser):
            parser.add_argument("--level", type=int, default=3, choices=(1, 3, 5), help="how much")
            parser.add_argument("--where", metavar="DIR", help="a folder")
        def run(args):
            return 0
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(tools.TOOLS, "gui-demo", "gui_demo_tool")
    fields = _fields("gui-demo")
    assert fields["level"]["choices"] == [1, 3, 5] and fields["level"]["default"] == 3
    assert fields["where"]["kind"] == "path" and fields["where"]["path"] == "folder"
    assert forms.parse("gui-demo", {"level": "5"}).level == 5
    sys.modules.pop("gui_demo_tool", None)


def test_field_kinds_and_paths():
    extract = _fields("extract")
    assert extract["input"]["kind"] == "path" and extract["input"]["multiple"] and extract["input"]["required"]
    assert extract["output"]["path"] == "folder"
    assert extract["size"]["kind"] == "int" and extract["size"]["default"] == 256
    assert extract["ref-threshold"]["kind"] == "float"
    assert extract["masks"]["multiple"] and extract["masks"]["default"] == ["components", "extended"]
    assert _fields("train")["option"]["multiple"]                       # -O, action="append"
    assert _fields("evaluate")["ref-a"]["multiple"]                     # action="extend"
    convert = _fields("convert")
    assert convert["no-smooth"]["kind"] == "bool" and convert["no-smooth"]["const"] == 0.0
    assert convert["no-smooth"]["dest"] == convert["smooth"]["dest"] == "smooth"
    assert convert["mask-blur"]["group"] == "blending"


CASES = [
    ("extract", ["-i", "a.mp4", "b.mp4", "-o", "out", "-D", "dlib-cnn", "--size", "128", "-M", "--no-faces"],
     {"input": ["a.mp4", "b.mp4"], "output": "out", "detector": "dlib-cnn", "size": "128", "masks": [],
      "no-faces": True}),
    ("extract", ["-i", "a.mp4", "-o", "out", "-M", "extended", "--ref-threshold", "0.4"],
     {"input": "a.mp4", "output": "out", "masks": ["extended"], "ref-threshold": 0.4}),
    ("convert", ["-i", "a.mp4", "-o", "b.mp4", "-m", "model", "--no-smooth", "--mask-erode", "-2", "-c", "none"],
     {"input": "a.mp4", "output": "b.mp4", "model-dir": "model", "no-smooth": True, "mask-erode": "-2",
      "color-adjustment": "none", "swap-model": False}),
    ("train", ["-A", "fa", "-B", "fb", "-m", "m", "-O", "width=0.5", "-O", "depth=2", "-i", "10", "-w"],
     {"input-A": "fa", "input-B": "fb", "model-dir": "m", "option": ["width=0.5", "depth=2"], "iterations": 10,
      "write-image": True}),
    ("evaluate", ["--original", "a.mp4", "--swapped", "s.mp4", "--ref-a", "x", "y", "--ref-b", "z", "-o", "rep"],
     {"original": "a.mp4", "swapped": "s.mp4", "ref-a": ["x", "y"], "ref-b": ["z"], "output": "rep"}),
    ("effmpeg", ["-a", "rotate", "-i", "v.mp4", "--degrees", "90"],
     {"action": "rotate", "input": "v.mp4", "degrees": "90"}),
    ("bench", ["--stages", "train", "-b", "8", "16", "--quick"],
     {"stages": ["train"], "batch-sizes": ["8", "16"], "quick": True}),
    ("bench", [], {"stages": [], "json": ""}),
]


@pytest.mark.parametrize("command,argv,values", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_a_form_parses_to_the_namespace_the_cli_builds(command, argv, values):
    assert vars(forms.parse(command, values)) == vars(forms.build_parser(command).parse_args(argv))


@pytest.mark.parametrize("command,values,words", [
    ("extract", {"input": "a.mp4"}, ["required", "--output"]),
    ("extract", {"input": "a.mp4", "output": "o", "detector": "nope"}, ["--detector", "invalid choice", "nope"]),
    ("extract", {"input": "a.mp4", "output": "o", "size": "0"}, ["--size", "must be 1 or more"]),
    ("extract", {"input": "a.mp4", "output": "o", "every-n": "two"}, ["--every-n", "not a whole number"]),
    ("extract", {"input": "a.mp4", "output": "o", "ref-threshold": "3"}, ["between 0 and 2"]),
    ("extract", {"input": "a.mp4", "output": ["o", "p"]}, ["--output", "expected one argument"]),
    ("convert", {"input": "a", "output": "b", "model-dir": "m", "crf": "1.5"}, ["--crf", "invalid int value"]),
    ("convert", {"input": "a", "output": "b", "model-dir": "m", "bogus": "1"}, ["unknown option", "bogus"]),
    ("convert", {"input": "a", "output": "b", "model-dir": "m", "no-label": "yes"}, ["true or false"]),
])
def test_a_bad_form_is_refused_as_the_cli_refuses_it(command, values, words):
    with pytest.raises(FaceswapError) as err:
        forms.parse(command, values)
    for word in words:
        assert word in str(err.value)


def test_form_paths_are_confined_to_the_root(tmp_path):
    root = Root(tmp_path)
    (tmp_path / "clips").mkdir()
    ns = forms.parse("extract", {"input": ["clips/a.mp4"], "output": "faces"}, confine=root.confine)
    assert ns.input == [str(tmp_path.resolve() / "clips" / "a.mp4")]
    assert ns.output == str(tmp_path.resolve() / "faces")
    assert forms.parse("extract", {"input": "a.mp4", "output": "o", "detector": "haar"},
                       confine=root.confine).detector == "haar"
    for bad in ("../x", "/etc", "clips/../../x"):
        with pytest.raises(FaceswapError):
            forms.parse("extract", {"input": bad, "output": "faces"}, confine=root.confine)


def test_saved_settings_are_a_config_file_the_cli_reads(tmp_path):
    ns = forms.parse("convert", {"input": "a.mp4", "output": "b.mp4", "model-dir": "m", "mask-type": "components",
                                 "mask-blur": "7.5", "no-smooth": True, "color-adjustment": "match-hist"})
    text = forms.defaults_toml("convert", ns, ["mask_type", "mask_blur", "mask_erode", "color_adjustment",
                                               "scaling", "smooth"])
    path = tmp_path / "tuned.toml"
    path.write_text(text)
    assert tomllib.loads(text)["convert"]["smooth"] == 0.0
    parser = forms.build_parser("convert")
    parser.set_defaults(**_load_config(str(path), "convert"))
    args = parser.parse_args(["-i", "a.mp4", "-o", "b.mp4", "-m", "m"])
    assert (args.mask_type, args.mask_blur, args.mask_erode, args.color_adjustment, args.smooth) == \
        ("components", 7.5, 1.0, "match-hist", 0.0)


def test_config_text_escapes_strings():
    ns = argparse.Namespace(stem='we"ird\\name\x7f')
    text = forms.defaults_toml("alignments", ns, ["stem"])
    assert tomllib.loads(text)["alignments"]["stem"] == 'we"ird\\name\x7f'


def test_changed_options_only_when_no_keys_are_named():
    ns = forms.parse("extract", {"input": "a.mp4", "output": "o", "size": "128"})
    assert tomllib.loads(forms.defaults_toml("extract", ns))["extract"] == {
        "input": ["a.mp4"], "output": "o", "size": 128}
