from mcp_streamablehttp_client.cli import main

raise SystemExit(main())
