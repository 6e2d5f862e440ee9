from paved_local.dataplane.server import main

main()
