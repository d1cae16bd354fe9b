import subprocess
import sys

from analysis import cli


def test_help_lists_commands(capsys):
    try:
        cli.main(["--help"])
    except SystemExit as exc:
        assert exc.code == 0
    out = capsys.readouterr().out
    for name in cli.COMMANDS:
        assert name in out


def test_no_command_prints_help_and_fails(capsys):
    assert cli.main([]) == 2
    assert "COMMAND" in capsys.readouterr().out


def test_module_entry_point_runs():
    res = subprocess.run([sys.executable, "-m", "analysis", "--version"], capture_output=True, text=True)
    assert res.returncode == 0
    assert "0.1.0" in res.stdout
