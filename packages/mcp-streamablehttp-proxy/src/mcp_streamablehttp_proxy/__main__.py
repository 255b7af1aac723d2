from mcp_streamablehttp_proxy.cli import main

if __name__ == "__main__":
    main()
