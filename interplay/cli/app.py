"""The `interplay` command: one typer app assembling the command groups."""

from __future__ import annotations

import typer

from interplay.cli.combo_commands import predict_combo_cmd, validate_combo_cmd
from interplay.cli.common import JsonErrors
from interplay.cli.export_commands import export_command
from interplay.cli.kb_commands import kb_app, list_entities
from interplay.cli.measure_commands import measure_cmd
from interplay.cli.plugins_commands import plugins_cmd
from interplay.cli.reason_commands import conflicts_cmd, eval_app, explain_cmd, matrix_cmd, predict_cmd
from interplay.cli.reproduce_commands import reproduce_cmd
from interplay.cli.status_commands import report_cmd, status_cmd
from interplay.cli.sweep_commands import sweep
from interplay.cli.validate_commands import results, validate

app = typer.Typer(
    name="interplay",
    cls=JsonErrors,
    help="Unintended interactions among ML defenses and risks: knowledge base, reasoner, validators, exports.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(kb_app, name="kb")
app.command("list")(list_entities)
app.command("validate")(validate)
app.command("results")(results)
app.command("export")(export_command)
app.command("predict")(predict_cmd)
app.command("explain")(explain_cmd)
app.command("matrix")(matrix_cmd)
app.command("conflicts")(conflicts_cmd)
app.command("predict-combo")(predict_combo_cmd)
app.command("validate-combo")(validate_combo_cmd)
app.add_typer(eval_app, name="eval")
app.command("status")(status_cmd)
app.command("report")(report_cmd)
app.command("sweep")(sweep)
app.command("reproduce")(reproduce_cmd)
app.command("plugins")(plugins_cmd)
app.command("measure")(measure_cmd)


def main() -> None:
    app()
