from sealchain.cli import main

main()
