from marketreact.cli import app

app(prog_name="marketreact")
