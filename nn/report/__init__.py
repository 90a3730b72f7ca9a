"""How trained networks are shown: figures, the HTML report, reproductions' verdicts, the recipe log."""
