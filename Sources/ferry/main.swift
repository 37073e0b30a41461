import FerryCLI

FerryCommand.runMain()
