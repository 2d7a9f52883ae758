from brevity.cli import main

main()
