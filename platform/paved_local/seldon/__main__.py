from paved_local.seldon.controller import main

main()
