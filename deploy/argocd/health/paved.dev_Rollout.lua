-- Argo CD health for paved.dev Rollout, from what operator/paved/controllers/rollout.py writes:
-- status.phase, status.message and a Progressing condition.
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
if phase == "Succeeded" then
  hs.status = "Healthy"
  hs.message = status.message or "the rollout succeeded"
  return hs
end

if phase == "RolledBack" or phase == "Failed" then
  hs.status = "Degraded"
  local progressing = condition(status, "Progressing")
  local requested = (obj.metadata.annotations or {})["paved.dev/rollback"]
  local stopped = progressing ~= nil and progressing.status == "False"
  -- A person's rollback: the operator's condition says "on request", the request's annotation
  -- says why. A tick after finishing, the condition says "The rollout has finished.", so the
  -- reason is recovered from what outlives that tick: the annotation, or the guardrail readings
  -- of the last analysis.
  if requested ~= nil and (not stopped or progressing.reason == "RollbackRequested") then
    hs.message = "rolled back on request: " .. requested
    return hs
  end
  if stopped and progressing.message ~= nil then
    hs.message = progressing.message
    return hs
  end
  local breaches = {}
  for _, reading in ipairs(status.analysis or {}) do
    if reading.verdict ~= "pass" and reading.message ~= nil and reading.message ~= "" then
      table.insert(breaches, reading.message)
    end
  end
  if #breaches > 0 then
    hs.message = table.concat(breaches, "; ")
    return hs
  end
  hs.message = status.message or ("the rollout is " .. phase)
  return hs
end

if phase == "Paused" then
  hs.status = "Suspended"
  hs.message = status.message or "paused: resume to go on, or roll back"
  return hs
end

hs.status = "Progressing"
-- Pending: the candidate or baseline ModelVersion may not exist yet (a later sync wave).
if accepted ~= nil and accepted.status == "False" then
  hs.message = accepted.message
  return hs
end
local progressing = condition(status, "Progressing")
hs.message = status.message
  or (progressing ~= nil and progressing.message)
  or ("phase " .. (phase or "unknown"))
return hs
