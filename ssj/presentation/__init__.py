"""How ssj's records are shown outside: spreadsheets (XLSX/CSV) and tables with Chinese
headers and Chinese names for coded values, one set of rules for the CLI, the API and every
service that writes a file."""
