from mcp_oauth_dynamicclient.cli import main

main()
