"""-C config files (lib/config.py): every value goes through its option's own argparse checks, so a config is
accepted or refused exactly as the same words on the command line; anything wrong is one ERROR line naming
the file, the table and the option. (Fuzzed with the other loaders in test_untrusted_fuzz.py.)"""
import pytest

import faceswap
import tools
from conftest import assert_clean_failure, run_cli
from lib import config
from lib.cli import parse_command_line
from lib.errors import FaceswapError
from lib.gui import forms


def _parse(path, *argv, program="faceswap.py"):
    commands = faceswap.COMMANDS if program == "faceswap.py" else tools.TOOLS
    return parse_command_line(program, "", commands, ["-C", str(path), *argv])


def _config(tmp_path, text: str):
    path = tmp_path / "my.toml"
    path.write_text(text, encoding="utf-8")
    return path


EXTRACT = ("extract", "-i", "a.mp4", "-o", "faces")


def test_config_values_are_converted_as_the_command_line_converts_them(tmp_path):
    path = _config(tmp_path, '[extract]\nsize = "128"\nmin-size = 20\ndetector = "haar"\nmasks = ["components"]\n'
                             'skip_existing = true\nrotate = [90, 180.0]\n'
                             '[train]\noption = ["size=128", "variant=df"]\nfreeze = ["encoder"]\n'
                             '[convert]\nsmooth = 0.5\nswap_model = true\n')
    args = _parse(path, *EXTRACT).args
    assert (args.size, args.min_size, args.detector, args.masks, args.skip_existing, args.rotate) == \
        (128, 20, "haar", ["components"], True, [90.0, 180.0])
    assert _parse(path, *EXTRACT, "--size", "64").args.size == 64          # the command line wins
    train = _parse(path, "train", "-A", "a", "-B", "b", "-m", "m").args
    assert train.option == ["size=128", "variant=df"] and train.freeze == ["encoder"]
    convert = _parse(path, "convert", "-i", "a.mp4", "-o", "b.mp4", "-m", "m").args
    assert convert.smooth == 0.5 and convert.swap_model is True


def test_an_older_plugin_name_in_a_config_is_mapped_as_on_the_command_line(tmp_path):
    parsed = _parse(_config(tmp_path, '[extract]\ndetector = "s3fd"\n'), *EXTRACT)
    assert parsed.args.detector == "yunet" and any("s3fd" in note for note in parsed.notes)


@pytest.mark.parametrize("text, words", [
    ('[extract]\nbatch_size = "abc"', ["[extract] batch_size", "'abc' is not a whole number", "-b/--batch-size",
                                         "fix or remove", "faceswap.py extract --help"]),
    ('[extract]\ndetector = "nope"', ["[extract] detector", "invalid choice: 'nope'", "yunet"]),
    ('[extract]\nsize = 1.5', ["[extract] size", "'1.5' is not a whole number"]),
    ('[extract]\nsize = 0', ["[extract] size", "must be 1 or more"]),
    ('[extract]\nsize = true', ["[extract] size", "true is not a value of this option"]),
    ('[extract]\nsize = [64, 128]', ["[extract] size", "a list of 2 values, but the option takes one"]),
    ('[extract]\nsize = ""', ["[extract] size", "an empty value"]),
    ('[extract]\nfilter = []', ["[extract] filter", "an empty list"]),
    ('[extract]\nskip_existing = "yes"', ["[extract] skip_existing", "not true or false"]),
    ('[extract]\nmasks = ["components", "nope"]', ["[extract] masks", "invalid choice: 'nope'"]),
    ('[extract.size]\nx = 1', ["[extract] size", "a table is not an option value"]),
    ('[extract]\nsize = {x = 1}', ["[extract] size", "a table is not an option value"]),
    ('[extract]\ninput = [["a.mp4"]]', ["[extract] input", "a list holding a list"]),
    ('[extract]\nsize = 1979-05-27', ["[extract] size", "a date"]),
    ('[extract]\nsize = nan', ["[extract] size", "nan (not a finite number)"]),
    ('[extract]\nsize = ' + "[" * 3000 + "]" * 3000, ["nested too deeply"]),
    ('[extract]\nsize = ' + "9" * 5000, ["is not a valid config", "digits"]),
    ('[extract]\nsize = "' + "x" * 5000 + '"', ["[extract] size", "text of 5000 characters"]),
    ('[extract]\nsize = 64\nsize_of_face = 3\n"a\\nb" = 1', ["[extract] has unknown option(s) a\\nb, size_of_face",
                                                               "without the dashes"]),
    ('[extract]\nsize = 64\n"size" = 65', ["not valid TOML"]),
    ('[extract]\nmin-size = 1\nmin_size = 2', ["names option min_size twice"]),
    ("size = 64\n[extract]", ["size = 64 is outside any [command] table"]),
    ('[extarct]\nsize = 64', ["[extarct] is not a command", "fix or remove that table"]),
    ('[[extract]]\nsize = 64', ["[[extract]] (an array of tables)"]),
    ('[extract]\noutput = "faces\\u0000x"', ["[extract] output", "a NUL character"]),
])
def test_a_bad_config_is_one_error_naming_the_file_the_table_and_the_option(tmp_path, text, words):
    path = _config(tmp_path, text + "\n")
    with pytest.raises(FaceswapError) as caught:
        _parse(path, *EXTRACT)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message, message
    for word in words:
        assert word in message, message


def test_a_config_that_is_not_a_small_utf8_file_is_refused_unread(tmp_path):
    big = tmp_path / "big.toml"
    big.write_bytes(b"# " + b"x" * (config.MAX_BYTES + 10) + b"\n[extract]\nsize = 64\n")
    for path, words in ((big, "a config holds a few options"), (tmp_path, "is not a file"),
                        (tmp_path / "none.toml", "config file not found")):
        with pytest.raises(FaceswapError, match=words):
            _parse(path, *EXTRACT)
    latin = _config(tmp_path, "")
    latin.write_bytes('[extract]\ndetector = "h\u00e4ar"\n'.encode("latin-1"))
    with pytest.raises(FaceswapError, match="not UTF-8 text"):
        _parse(latin, *EXTRACT)


def test_other_commands_tables_are_checked_when_that_command_runs(tmp_path):
    path = _config(tmp_path, '[extract]\nsize = 64\n[train]\nbatch_size = "abc"\n[sort]\nby = "face"\n')
    assert _parse(path, *EXTRACT).args.size == 64
    with pytest.raises(FaceswapError, match=r"\[train\] batch_size"):
        _parse(path, "train", "-A", "a", "-B", "b", "-m", "m")


def test_a_config_saved_by_the_gui_gives_the_cli_the_same_options(tmp_path):
    values = {"input": "a.mp4", "output": "b.mp4", "model-dir": "m", "mask-type": "components", "mask-blur": "7.5",
              "no-smooth": True, "color-adjustment": "match-hist", "swap-model": True, "writer": "ffmpeg"}
    form = forms.parse("convert", values)
    path = _config(tmp_path, forms.defaults_toml("convert", form))
    cli = _parse(path, "convert", "-i", "a.mp4", "-o", "b.mp4", "-m", "m").args
    for dest in ("mask_type", "mask_blur", "smooth", "color_adjustment", "swap_model", "writer"):
        assert getattr(cli, dest) == getattr(form, dest), dest


def test_the_cli_prints_one_error_line_for_a_bad_config_and_runs_nothing(tmp_path):
    path = _config(tmp_path, '[extract]\ndetector = "nope"\n')
    proc = run_cli("faceswap.py", "-C", path, "extract", "-i", tmp_path / "a.mp4", "-o", tmp_path / "faces",
                   check=False)
    assert_clean_failure(proc, str(path), "[extract] detector", "invalid choice: 'nope'")
    assert proc.returncode == 1 and not (tmp_path / "faces").exists()
