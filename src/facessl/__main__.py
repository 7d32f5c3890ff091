from facessl.cli import main

raise SystemExit(main())
