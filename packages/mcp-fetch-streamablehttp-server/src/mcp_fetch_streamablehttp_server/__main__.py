from mcp_fetch_streamablehttp_server.cli import main

if __name__ == "__main__":
    main()
