from mcp_echo_streamablehttp_server_stateful.cli import main

if __name__ == "__main__":
    main()
