"""The learning-rate schedule's maths and the duration syntax of --time (no TensorFlow: pure functions)."""
import math

import pytest

from lib import duration
from lib.errors import FaceswapError
from lib.model.trainer import Schedule, parse_schedule

RATE = 5e-5


@pytest.mark.parametrize("text, seconds", [("90s", 90), ("30m", 1800), ("1h30m", 5400), ("2h", 7200),
                                           ("1.5h", 5400), ("1h 5m 3s", 3903), ("45", 45), ("0.5", 0.5),
                                           (12, 12), (2.5, 2.5), ("30M", 1800)])
def test_durations_as_people_write_them(text, seconds):
    assert duration.parse(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "m", "30x", "1m1h", "1h1h", "-5m", "0", "0s", "10d", "nan", "inf", "1e9h",
                                  "30 minutes", True])
def test_a_duration_that_is_not_one_is_one_clear_error(text):
    with pytest.raises(FaceswapError) as err:
        duration.parse(text)
    assert "--time" in str(err.value) and ("90s, 30m" in str(err.value) or "like 90s" in str(err.value))


def test_durations_print_in_the_form_they_are_read():
    for seconds in (5400, 95, 7200, 59, 3600 + 1):
        assert duration.parse(duration.format(seconds)) == seconds
    assert duration.format(5400) == "1h30m" and duration.format(0.4) == "0.4s"


def test_flat_is_the_rate_at_every_iteration():
    schedule = parse_schedule(None, RATE)
    assert schedule == Schedule(RATE) and schedule.spec == "flat"
    assert {schedule(i) for i in (0, 1, 10 ** 6)} == {RATE}


def test_warmup_rises_linearly_to_the_rate_then_holds():
    schedule = parse_schedule("flat", RATE, warmup=4)
    assert [schedule(i) for i in range(6)] == pytest.approx([RATE / 4, RATE / 2, 3 * RATE / 4, RATE, RATE, RATE])
    assert schedule(-3) == schedule(0)          # never below the first step's rate


def test_cosine_falls_from_the_rate_to_its_floor_over_its_steps_after_the_warmup():
    schedule = parse_schedule("cosine:100:0.2", RATE, warmup=10)
    assert schedule.spec == "cosine:100:0.2"
    assert schedule(9) == pytest.approx(RATE)                      # the warm-up's last step
    assert schedule(10) == pytest.approx(RATE)                     # the decay starts at the top
    assert schedule(60) == pytest.approx(0.2 * RATE + 0.8 * RATE * 0.5)   # halfway: the mean of top and floor
    assert schedule(35) == pytest.approx(0.2 * RATE + 0.8 * RATE * 0.5 * (1 + math.cos(math.pi / 4)))
    assert schedule(110) == schedule(10 ** 7) == pytest.approx(0.2 * RATE)
    rates = [schedule(i) for i in range(10, 111)]
    assert all(a >= b for a, b in zip(rates, rates[1:]))           # never rises again


def test_cosine_without_steps_decays_over_the_rest_of_the_run():
    schedule = parse_schedule("cosine", RATE, warmup=100, horizon=1100)
    assert schedule.steps == 1000 and schedule.floor == 0.1
    assert schedule(1100) == pytest.approx(0.1 * RATE)


def test_step_decay_multiplies_at_each_interval_down_to_its_floor():
    schedule = parse_schedule("step:1000:0.5:0.2", RATE)
    assert [schedule(i) for i in (0, 999, 1000, 1999, 2000, 3000, 50000)] == pytest.approx(
        [RATE, RATE, RATE / 2, RATE / 2, RATE / 4, RATE / 5, RATE / 5])
    assert parse_schedule(schedule.spec, RATE) == schedule         # the saved text gives it back


@pytest.mark.parametrize("spec, words", [("linear", "give flat, cosine"), ("cosine:abc", "give flat, cosine"),
                                         ("cosine:0", "at least 1"), ("step", "at least 1"),
                                         ("step:100:1.5", "FACTOR"), ("cosine:100:2", "FLOOR"),
                                         ("flat:3", "give flat, cosine"), ("cosine:1:0.1:9", "give flat")])
def test_a_bad_schedule_is_one_clear_error(spec, words):
    with pytest.raises(FaceswapError) as err:
        parse_schedule(spec, RATE, horizon=1000)
    assert "--lr-schedule" in str(err.value) and words in str(err.value)


def test_a_negative_warmup_or_rate_is_refused():
    with pytest.raises(FaceswapError, match="--warmup"):
        parse_schedule("flat", RATE, warmup=-1)
    with pytest.raises(FaceswapError, match="--learning-rate"):
        parse_schedule("flat", 0.0)
