"""What members read, in their language: gettext catalogs (`locales/`), loaded by `Catalogs`."""
