from taskflow.cli import app

app(prog_name="taskflow")
