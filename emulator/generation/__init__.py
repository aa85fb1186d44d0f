"""A1111's generation pipeline (`modules/processing.py` and friends): the job, override_settings,
sampling, hires fix, pictures and infotexts, and the progress `/progress` reports."""
