from ovoz.cli import main

main()
