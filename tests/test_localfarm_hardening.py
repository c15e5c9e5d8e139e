"""The local farm against bad knobs and hostile clients: clear errors, a clean stderr, no hang.

Knobs that make no sense (a port past 65535, a latency of nan, an infinite speedup) are refused
where they are given: by ``deadline-nb localfarm`` as a one-line usage error, and by
``LocalFarm(...)`` / ``FarmModel(...)`` in the package's one wording. Requests with a bad
``Content-Length``, and clients that leave mid-request or mid-response, get an answer shaped like
the service's errors (or none, when nobody is left to read it) without a traceback on the server's
stderr, and the farm keeps serving.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from deadline_nb import cli
from deadline_nb.localfarm import FarmModel, LocalFarm
from deadline_nb.localfarm.clock import ManualClock, WallClock

# ---------------------------------------------------------------------------------------------
# knobs


@pytest.mark.parametrize(
    ("argv", "option", "name"),
    [
        (["--port", "99999"], "--port", "port"),
        (["--port", "-1"], "--port", "port"),
        (["--port", "65536"], "--port", "port"),
        (["--latency", "nan"], "--latency", "latency"),
        (["--latency", "inf"], "--latency", "latency"),
        (["--latency", "-1"], "--latency", "latency"),
        (["--speedup", "nan"], "--speedup", "speedup"),
        (["--speedup", "inf"], "--speedup", "speedup"),
        (["--speedup", "0"], "--speedup", "speedup"),
        (["--throttle-rate", "nan"], "--throttle-rate", "throttle_rate"),
        (["--throttle-rate", "inf"], "--throttle-rate", "throttle_rate"),
        (["--throttle-rate", "-5"], "--throttle-rate", "throttle_rate"),
        (["--fault-rate", "nan"], "--fault-rate", "fault_rate"),
        (["--fault-rate", "2"], "--fault-rate", "fault_rate"),
        (["--item-fault-rate", "inf"], "--item-fault-rate", "item_fault_rate"),
        (["--item-fault-rate", "-0.5"], "--item-fault-rate", "item_fault_rate"),
        (["--size", "-1"], "--size", "size"),
    ],
)
def test_the_localfarm_command_refuses_bad_knobs_in_one_usage_line(
    argv: list[str],
    option: str,
    name: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def started(args: Any) -> int:  # pragma: no cover - reached only by the defect
        raise AssertionError(f"the farm was started with {argv}")

    monkeypatch.setattr(cli, "run_localfarm", started)
    with pytest.raises(SystemExit) as caught:
        cli.main(["localfarm", *argv])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    # argparse's usage line, then one line that names the option and says why.
    assert last.startswith(f"deadline-nb localfarm: error: argument {option}: ")
    assert f"The value for `{name}` must " in last
    assert argv[1] in last


def test_the_localfarm_command_still_takes_good_knobs() -> None:
    args = cli.build_parser().parse_args(
        [
            "localfarm",
            "--port",
            "65535",
            "--latency",
            "0.02",
            "--speedup",
            "60",
            "--throttle-rate",
            "5",
            "--fault-rate",
            "1",
            "--item-fault-rate",
            "0",
            "--size",
            "0",
        ]
    )
    assert (args.port, args.latency, args.speedup, args.throttle_rate) == (65535, 0.02, 60.0, 5.0)
    assert (args.fault_rate, args.item_fault_rate, args.size) == (1.0, 0.0, 0)


NAN, INF = math.nan, math.inf


@pytest.mark.parametrize(
    ("knobs", "name"),
    [
        ({"port": 99999}, "port"),
        ({"port": -1}, "port"),
        ({"latency": NAN}, "latency"),
        ({"latency": INF}, "latency"),
        ({"speedup": NAN}, "speedup"),
        ({"speedup": INF}, "speedup"),
        ({"speedup": -INF}, "speedup"),
        ({"throttle_rate": NAN}, "throttle_rate"),
        ({"throttle_rate": INF}, "throttle_rate"),
        ({"fault_rate": NAN}, "fault_rate"),
        ({"item_fault_rate": NAN}, "item_fault_rate"),
        ({"size": -1}, "size"),
        ({"size": 2.5}, "size"),
    ],
)
def test_local_farm_refuses_bad_knobs_in_the_package_wording(
    knobs: dict[str, Any], name: str
) -> None:
    with pytest.raises(ValueError, match=rf"^The value for `{name}` must .*, but .* was passed\.$"):
        LocalFarm(**knobs)


@pytest.mark.parametrize(
    ("knobs", "name"),
    [
        ({"speedup": NAN}, "speedup"),
        ({"speedup": INF}, "speedup"),
        ({"size": -3}, "size"),
        ({"start": NAN}, "start"),
        ({"start": INF}, "start"),
    ],
)
def test_farm_model_refuses_bad_knobs_in_the_package_wording(
    knobs: dict[str, Any], name: str
) -> None:
    with pytest.raises(ValueError, match=rf"^The value for `{name}` must "):
        FarmModel(**knobs)
    if "size" not in knobs:
        with pytest.raises(ValueError, match=rf"^The value for `{name}` must "):
            WallClock(**knobs)


def test_a_manual_clock_refuses_instants_that_are_not_finite() -> None:
    with pytest.raises(ValueError, match=r"^The value for `start` must "):
        ManualClock(NAN)
    clock = ManualClock(100.0)
    with pytest.raises(ValueError, match=r"^The value for `seconds` must "):
        clock.advance(NAN)
    with pytest.raises(ValueError, match=r"^The value for `seconds` must "):
        clock.advance(INF)
    with pytest.raises(ValueError, match=r"^The value for `at` must "):
        clock.set(INF)
    assert clock.now() == 100.0  # unchanged by the refused moves


def test_good_knobs_at_their_limits_are_taken() -> None:
    farm = LocalFarm(port=0, latency=0.0, throttle_rate=0.5, fault_rate=1.0, item_fault_rate=0.0)
    assert farm.port == 0
    assert LocalFarm(port=65535).port == 65535
    assert FarmModel(speedup=1e6).clock.now() > 0
