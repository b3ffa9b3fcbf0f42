"""Under CI=true a skip or an expected failure fails the run, but a declared engine limit;
a parametrisation with no case fails at collection. Each runs a small suite in pytester
with the project's skip guard (tests/skip_guard.py)."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

GUARD = ("-p", "skip_guard", "-p", "no:cacheprovider")

SUITE = {
    "skipped": """
        import pytest

        def test_needs_a_server():
            pytest.skip("no server here")

        def test_fine():
            pass
    """,
    "skip_marker": """
        import pytest

        @pytest.mark.skip(reason="later")
        def test_later():
            pass
    """,
    "skipif_marker": """
        import pytest

        @pytest.mark.skipif(True, reason="not on this machine")
        def test_elsewhere():
            pass
    """,
    "xfailed": """
        import pytest

        @pytest.mark.xfail(reason="known bug")
        def test_known_bug():
            assert False
    """,
    "xpassed": """
        import pytest

        @pytest.mark.xfail(reason="was a bug")
        def test_fixed_bug():
            pass
    """,
    "module_skipped": """
        import pytest

        pytest.skip("whole module", allow_module_level=True)

        def test_never_runs():
            pass
    """,
    "fixture_skipped": """
        import pytest

        @pytest.fixture
        def service():
            pytest.skip("service down")

        def test_uses_it(service):
            pass
    """,
}

ENGINE_LIMIT = """
    import pytest

    @pytest.mark.engine_limit("spark: no median over a window")
    def test_median_on_spark():
        assert False

    def test_fine():
        pass
"""


@pytest.fixture
def ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")


@pytest.mark.usefixtures("ci")
@pytest.mark.parametrize("kind", list(SUITE))
def test_under_ci_a_skip_or_expected_failure_fails_the_run_and_is_named(
    pytester: pytest.Pytester, kind: str
) -> None:
    test_file = pytester.makepyfile(**{f"test_{kind}": SUITE[kind]})

    result = pytester.runpytest(*GUARD)

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*skips and expected failures (CI=true)*", f"*{test_file.name}*"])


@pytest.mark.parametrize("kind", list(SUITE))
def test_outside_ci_a_skip_is_only_reported(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    monkeypatch.delenv("CI", raising=False)
    pytester.makepyfile(**{f"test_{kind}": SUITE[kind]})

    result = pytester.runpytest(*GUARD)

    assert result.ret in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED)
    assert "CI=true" not in result.stdout.str()


@pytest.mark.usefixtures("ci")
def test_under_ci_a_declared_engine_limit_is_a_strict_expected_failure(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_engines=ENGINE_LIMIT)

    result = pytester.runpytest(*GUARD, "-rx")

    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=1, xfailed=1)
    result.stdout.fnmatch_lines(["*engine limit: spark: no median over a window*"])
    assert "skips and expected failures" not in result.stdout.str()


@pytest.mark.usefixtures("ci")
def test_an_engine_limit_that_no_longer_fails_fails_the_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_engines=ENGINE_LIMIT.replace("assert False", "pass"))

    result = pytester.runpytest(*GUARD)

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(["*XPASS(strict)*"])


def test_an_engine_limit_says_why(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_engines="""
        import pytest

        @pytest.mark.engine_limit()
        def test_something():
            pass
        """
    )

    result = pytester.runpytest(*GUARD)

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*an engine limit says why*"])


def test_an_empty_parametrisation_fails_at_collection(
    pytester: pytest.Pytester, pytestconfig: pytest.Config
) -> None:
    """As pyproject.toml sets it for the suite (empty_parameter_set_mark)."""
    assert pytestconfig.getini("empty_parameter_set_mark") == "fail_at_collect"
    pytester.makeini("[pytest]\nempty_parameter_set_mark = fail_at_collect\n")
    pytester.makepyfile(
        test_empty="""
        import pytest

        @pytest.mark.parametrize("measure", [])
        def test_each_measure(measure):
            pass
        """
    )

    result = pytester.runpytest(*GUARD)

    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*Empty parameter set*"])
