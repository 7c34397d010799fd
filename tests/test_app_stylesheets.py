"""The screens' styles live in stylesheets (``.tcss``, loaded through ``CSS_PATH``); only
reusable widgets keep a ``DEFAULT_CSS``. Checks every Screen class of ``simjobs.app``:
no ``DEFAULT_CSS``, its sheets exist where Textual looks for them (also for a subclass
defined in another module), they parse, and every rule starts with the screen's type (a
screen's sheet applies to the whole app). Plus the one rule whose rank changed in the
move: the submit form's radio set keeps Textual's focus border."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

from textual.app import App
from textual.color import Color
from textual.css.stylesheet import Stylesheet
from textual.screen import Screen
from textual.widgets import Input, RadioSet

import simjobs.app
from app_fixtures import run_async, until
from simjobs.app.screens.submit import SubmitScreen
from test_app_submit import Host, backend  # noqa: F401 (backend: the fixture)

APP_DIR = Path(simjobs.app.__file__).parent
#: Every screen of the app today; the walk must find at least these.
KNOWN_SCREENS = {"MainScreen", "PeekingMainScreen", "OpeningScreen", "ConfirmScreen",
                 "HelpScreen", "SubmitScreen", "SimulationsLogScreen", "ExportScreen",
                 "JobDetailScreen"}


def screen_classes() -> list[type[Screen]]:
    """Every Screen subclass defined in a module of simjobs.app."""
    found = []
    for info in pkgutil.walk_packages(simjobs.app.__path__, "simjobs.app."):
        module = importlib.import_module(info.name)
        found += [obj for obj in vars(module).values()
                  if inspect.isclass(obj) and issubclass(obj, Screen)
                  and obj.__module__ == module.__name__]
    return found


def css_paths(cls: type[Screen]) -> list[Path]:
    """The sheets of ``cls`` (inherited too), resolved as Textual resolves them: a
    relative path is taken beside the file of the class instantiated."""
    paths = cls.CSS_PATH
    if paths is None:
        return []
    if isinstance(paths, (str, Path)):
        paths = [paths]
    return [Path(p) if Path(p).is_absolute() else Path(inspect.getfile(cls)).parent / p
            for p in paths]


def test_the_walk_finds_every_screen():
    assert KNOWN_SCREENS <= {cls.__name__ for cls in screen_classes()}


def test_no_screen_defines_default_css():
    offenders = [f"{cls.__module__}.{cls.__name__}" for cls in screen_classes()
                 if "DEFAULT_CSS" in vars(cls)]
    assert offenders == [], f"move their DEFAULT_CSS to a .tcss sheet: {offenders}"


def test_each_screen_of_screens_has_sheets_that_exist():
    for cls in screen_classes():
        paths = css_paths(cls)
        if cls.__module__.startswith("simjobs.app.screens."):
            assert paths, f"{cls.__name__} has no CSS_PATH"
        for path in paths:
            assert path.is_file(), f"{cls.__name__}: {path} does not exist"


def test_every_sheet_parses_and_each_screen_sheet_starts_its_rules_with_the_screen():
    variables = App().get_css_variables()
    sheets = sorted(APP_DIR.rglob("*.tcss"))
    assert APP_DIR / "app.tcss" in sheets and len(sheets) >= 8
    owners: dict[Path, set[str]] = {}
    for cls in screen_classes():
        for path in css_paths(cls):
            owners.setdefault(path.resolve(), set()).update(
                base.__name__ for base in cls.__mro__ if issubclass(base, Screen))
    for path in sheets:
        stylesheet = Stylesheet(variables=variables)
        stylesheet.read(path)
        stylesheet.parse()  # raises StylesheetParseError, naming the line, on a bad rule
        assert stylesheet.rules, f"{path} has no rules"
        allowed = owners.get(path.resolve())
        if allowed is None:
            continue  # the app's own sheet
        for rule in stylesheet.rules:
            for selector_set in rule.selector_set:
                first = selector_set.selectors[0].name
                assert first in allowed, (
                    f"{path.name}: a rule starting with {first!r} would style every screen;"
                    f" start it with {sorted(allowed)}")


@run_async
async def test_the_batch_source_radio_set_shows_its_border_only_while_focused(backend):
    # The screen's rule (border: none) was DEFAULT_CSS and Textual's RadioSet:focus
    # border outranked it; moved to a sheet it outranks every DEFAULT_CSS, so without its
    # own :focus rule the focused radio set would lose its border.
    app = Host(backend)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, SubmitScreen)
                    and isinstance(app.focused, Input), message="the form, a field focused")
        radio = app.screen.query_one("#batch-source", RadioSet)
        radio.focus()  # brings its tab (Batch) to the front
        await until(pilot, lambda: radio.has_focus and app.screen.mode == "csv",
                    message="the batch tab, the radio set focused")
        await until(pilot, lambda: radio.outer_size.height == 3,
                    message=lambda: f"a focus border: outer size {radio.outer_size}")
        assert radio.styles.border_top[0] == "tall"
        assert radio.styles.border_top[1] == Color.parse(app.get_css_variables()["border"])
        app.screen.query_one("#csv-path Input").focus()
        await until(pilot, lambda: not radio.has_focus and radio.outer_size.height == 1,
                    message=lambda: f"no border once blurred: outer size {radio.outer_size}")
        assert radio.styles.border_top[0] == ""
