from synthmed.cli import main

main()
