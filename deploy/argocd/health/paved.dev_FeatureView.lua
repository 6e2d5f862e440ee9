-- Argo CD health for paved.dev FeatureView, from what operator/paved/controllers/feature_view.py
-- writes: a Ready condition when materialization runs and a Fresh condition on every tick.
-- A FeatureView has no phase.
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

-- Stale online values are served (flagged or null) rather than refused, so models keep
-- answering on old features: that is degraded, not down. The message names the features.
local fresh = condition(status, "Fresh")
if fresh ~= nil and fresh.status == "False" then
  hs.status = "Degraded"
  hs.message = fresh.message
  return hs
end

if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message
  return hs
end

-- With materialization switched off, Ready is never written; freshness is all there is to judge.
local materialization = (obj.spec or {}).materialization or {}
if materialization.enabled == false and fresh ~= nil and fresh.status == "True" then
  hs.status = "Healthy"
  hs.message = "materialization is disabled; " .. fresh.message
  return hs
end

hs.status = "Progressing"
hs.message = "waiting for the first materialization"
return hs
