// msgpackr loads its native string extractor inside try/catch and falls back to JavaScript.
throw new Error(
  'msgpackr-extract is not installed in Flotilla: msgpackr uses its JavaScript decoder',
);
