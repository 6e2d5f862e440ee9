from paved.dataplane.server import main

main()
