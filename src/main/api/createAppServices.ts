import type { ApiEventName, ApiEvents, AppInfo } from '../../shared/api/contract'
import { StudySession } from '../study/StudySession'
import { TrainingService } from '../training/trainingService'
import { createDispatcher, type Dispatch } from './dispatch'
import { createServices } from './services'

export interface AppServices {
  dispatch: Dispatch
  session: StudySession
  /** The transport plugs its event sender in here once it exists. */
  setEventSink(sink: <E extends ApiEventName>(event: E, payload: ApiEvents[E]) => void): void
}

/** Build the main-process services once; a transport (IPC or WebSocket) then serves `dispatch`. */
export function createAppServices(options: { transport: AppInfo['transport']; startupStudyPath?: string; browseRoot?: string }): AppServices {
  let sink: <E extends ApiEventName>(event: E, payload: ApiEvents[E]) => void = () => undefined
  const session = new StudySession((event, payload) => sink(event, payload))
  const training = new TrainingService(session, (event, payload) => sink(event, payload))
  const dispatch = createDispatcher(createServices({ ...options, session, training }))
  return {
    dispatch,
    session,
    setEventSink(s) {
      sink = s
    },
  }
}
