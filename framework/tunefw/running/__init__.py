"""Running a prepared recipe on Ray Tune: compile it, run it (stages, nested CV), the trial
function in the workers, the result writer that stores every result, the Ray connection.

(Named ``running``, not ``run``: ``tunefw.run`` is the API function.)"""
