"""The main job: one config file drives every stage (``synthmed init`` / ``synthmed run``), with a stage cache."""
