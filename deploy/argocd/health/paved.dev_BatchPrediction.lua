-- Argo CD health for paved.dev BatchPrediction, from what operator/paved/controllers/batch_prediction.py
-- writes: a Ready condition (the due run's predictions are served, or why not) and, after a
-- model change, a ModelChange condition (the new version's shadow accepted, held or rolled back).
local hs = {}

local function condition(status, wanted)
  for _, c in ipairs(status.conditions or {}) do
    if c.type == wanted then
      return c
    end
  end
  return nil
end

local status = obj.status
if status == nil then
  hs.status = "Progressing"
  hs.message = "waiting for the operator to report a status"
  return hs
end
-- Conditions describe the generation the operator last saw, not necessarily this one.
local generation = obj.metadata.generation
if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  hs.status = "Progressing"
  hs.message = "waiting for the operator to observe generation " .. tostring(generation)
  return hs
end

local accepted = condition(status, "Accepted")
-- The operator gives up on a spec it cannot parse; waiting would never end.
if accepted ~= nil and accepted.status == "False" and accepted.reason == "InvalidSpec" then
  hs.status = "Degraded"
  hs.message = accepted.message
  return hs
end

local ready = condition(status, "Ready")
if ready ~= nil and ready.status == "False" then
  hs.status = "Degraded"
  hs.message = ready.message
  return hs
end

-- A new model version's predictions held beside the served ones wait for a person (or a
-- change): the served ones are still good, nothing is broken.
local change = condition(status, "ModelChange")
if change ~= nil and change.status == "False" and change.reason == "ShadowHeld" then
  hs.status = "Suspended"
  hs.message = change.message
  return hs
end

if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message
  return hs
end

hs.status = "Progressing"
hs.message = (ready ~= nil and ready.message) or "waiting for the first run"
return hs
