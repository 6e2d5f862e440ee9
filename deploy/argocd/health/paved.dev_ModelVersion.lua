-- Argo CD health for paved.dev ModelVersion, from what operator/paved/controllers/model_version.py
-- writes: status.phase and the Accepted, Approved, Trained and GatesPassed conditions.
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
-- Conditions and phase describe the generation the operator last saw, not necessarily this one.
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

local phase = status.phase
if phase == "Production" or phase == "Staging" or phase == "Archived" then
  hs.status = "Healthy"
  hs.message = phase
  if status.gatesSummary ~= nil then
    hs.message = phase .. ", gates " .. status.gatesSummary
  end
  return hs
end

if phase == "Held" or phase == "Failed" then
  hs.status = "Degraded"
  -- Held means a gate failed; Failed means the training run did. Approved=False is not a
  -- failure: a sign-off is still expected.
  local first = phase == "Held" and "GatesPassed" or "Trained"
  for _, wanted in ipairs({ first, "GatesPassed", "Trained" }) do
    local c = condition(status, wanted)
    if c ~= nil and c.status == "False" then
      hs.message = c.message
      return hs
    end
  end
  hs.message = "phase " .. phase
  return hs
end

-- Pending, Training, Evaluating: the run and the gates have not concluded.
hs.status = "Progressing"
if accepted ~= nil and accepted.status == "False" then
  hs.message = accepted.message
  return hs
end
local trained = condition(status, "Trained")
hs.message = (trained ~= nil and trained.message) or ("phase " .. (phase or "unknown"))
return hs
