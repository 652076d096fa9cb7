from aecore.cli import main

raise SystemExit(main())
